// Buggify-style fault points (RELIABILITY.md test 7). In production they do nothing. A crash test
// sets FAULT_POINT=name:n in a child's environment, and the n-th time the process passes that
// point it kills itself with SIGKILL: no cleanup, no flush, exactly like a power cut of the process.

const [armedName, armedHitText] = (process.env.FAULT_POINT ?? '').split(':');
const armedHit = Number(armedHitText);
let hits = 0;

export function faultPoint(name: string): void {
  if (armedName === '' || name !== armedName) return;
  hits++;
  if (hits === armedHit) process.kill(process.pid, 'SIGKILL');
}
