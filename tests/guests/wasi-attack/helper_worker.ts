/**
 * The second thread of tests/wasi_sandbox_test.ts (the guest runs on the
 * test's own thread and blocks it):
 *
 * - `swap`: until `stop` is set or `ms` pass, swaps `box/d` between a real
 *   directory and a symlink to the directory outside the box.
 * - `wake`: after `ms`, records the time, sets the interrupt flag and
 *   writes the eventfd `fd`.
 *
 * @module
 */
import { libc } from "../../../host/wasi/libc.ts";

type Task =
  | { task: "swap"; box: string; link: string; ms: number; stop: Int32Array }
  | {
    task: "wake";
    fd: number;
    ms: number;
    flag: Int32Array;
    wokeAt: Float64Array;
  };

const scope = globalThis as unknown as {
  postMessage(m: unknown): void;
  onmessage: ((ev: MessageEvent<Task>) => void) | null;
  close(): void;
};

scope.onmessage = (ev) => {
  const t = ev.data;
  if (t.task === "swap") {
    const end = Date.now() + t.ms;
    let swaps = 0;
    scope.postMessage({ started: true });
    while (Date.now() < end && Atomics.load(t.stop, 0) === 0) {
      try {
        Deno.renameSync(`${t.box}/d`, `${t.box}/d.real`);
        Deno.symlinkSync(t.link, `${t.box}/d`);
        Deno.removeSync(`${t.box}/d`);
        Deno.renameSync(`${t.box}/d.real`, `${t.box}/d`);
        swaps++;
      } catch { /* the guest renamed nothing; keep going */ }
    }
    scope.postMessage({ swaps });
  } else {
    setTimeout(() => {
      Atomics.store(t.flag, 0, 1);
      t.wokeAt[0] = performance.timeOrigin + performance.now();
      libc().write(t.fd, new Uint8Array(new BigUint64Array([1n]).buffer), 8);
      scope.postMessage({ woke: true });
    }, t.ms);
  }
};
