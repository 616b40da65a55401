// UTC calendar arithmetic on plain integers (days since 1970-01-01), so the state machine never
// touches Date. days_from_civil / civil_from_days are Howard Hinnant's algorithms.

export const MS_PER_DAY = 86_400_000;
export const MS_PER_HOUR = 3_600_000;
const MONTH_CODES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

export interface CivilDate {
  year: number;
  /** 1 … 12 */
  month: number;
  /** 1 … 31 */
  day: number;
}

export function daysFromCivil({ year, month, day }: CivilDate): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

export function civilFromDays(days: number): CivilDate {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthPrime = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthPrime + 2) / 5) + 1;
  const month = monthPrime < 10 ? monthPrime + 3 : monthPrime - 9;
  return { year: era * 400 + yearOfEra + (month <= 2 ? 1 : 0), month, day };
}

/** 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday). */
export function weekdayOfDays(days: number): number {
  return (((days + 4) % 7) + 7) % 7;
}

export function lastDayOfMonth(year: number, month: number): number {
  const nextMonth = month === 12 ? { year: year + 1, month: 1, day: 1 } : { year, month: month + 1, day: 1 };
  return daysFromCivil(nextMonth) - daysFromCivil({ year, month, day: 1 });
}

/** The month after (year, month). */
export function nextMonth(year: number, month: number): { year: number; month: number } {
  return month === 12 ? { year: year + 1, month: 1 } : { year, month: month + 1 };
}

/** Deribit's date code: day without leading zero, month code, two-digit year: 30SEP26, 5JAN27. */
export function deribitDateCode(date: CivilDate): string {
  return `${date.day}${MONTH_CODES[date.month - 1]}${String(date.year % 100).padStart(2, '0')}`;
}

/** The last Friday strictly before the first day of (year, month), in days since the epoch. */
export function lastFridayBeforeMonth(year: number, month: number): number {
  let days = daysFromCivil({ year, month, day: 1 }) - 1;
  while (weekdayOfDays(days) !== 5) days--;
  return days;
}
