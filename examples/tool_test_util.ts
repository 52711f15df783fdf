/**
 * Helpers for the examples' tests: run an example through the CLI as a
 * long-lived process, read its stdout line by line while the test makes
 * activity, then stop it with SIGINT like a user pressing Ctrl-C.
 *
 * @module
 */
import { CLI_PERMISSIONS, ROOT } from "../tests/util.ts";

/** What a stopped tool left behind. */
export interface ToolResult {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  lines: string[];
}

/** One example running under `deno run mod.ts EXAMPLE.wasm ARGS...`. */
export class Tool {
  readonly lines: string[] = [];
  #stderr = "";
  #child: Deno.ChildProcess;
  #waiters: (() => void)[] = [];
  #done: Promise<Deno.CommandStatus>;
  #readers: Promise<void>[];
  #exited = false;

  constructor(
    wasm: string,
    args: string[] = [],
    options: { env?: Record<string, string>; permissions?: string[] } = {},
  ) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...(options.permissions ?? CLI_PERMISSIONS),
        `${ROOT}/mod.ts`,
        wasm,
        ...args,
      ],
      env: options.env,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    this.#readers = [
      this.#read(this.#child.stdout, (line) => this.lines.push(line)),
      this.#read(this.#child.stderr, (line) => {
        this.#stderr += line + "\n";
      }),
    ];
    this.#done = this.#child.status.then((s) => {
      this.#exited = true;
      this.#wake();
      return s;
    });
  }

  /** Process id of the CLI. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Everything written to stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  #wake() {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  async #read(stream: ReadableStream<Uint8Array>, onLine: (l: string) => void) {
    let buf = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
        this.#wake();
      }
    }
    if (buf) onLine(buf);
    this.#wake();
  }

  /**
   * Waits until a stdout line satisfies `match` and returns it. Fails after
   * `timeoutMs`, or when the tool exits first, with what it printed.
   */
  async waitFor(
    match: RegExp | ((line: string) => boolean),
    timeoutMs = 10_000,
    what = String(match),
  ): Promise<string> {
    const test = typeof match === "function"
      ? match
      : (l: string) => match.test(l);
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      for (; seen < this.lines.length; seen++) {
        if (test(this.lines[seen])) return this.lines[seen];
      }
      if (this.#exited || Date.now() >= deadline) {
        await Promise.race([Promise.all(this.#readers), sleep(200)]);
        for (; seen < this.lines.length; seen++) {
          if (test(this.lines[seen])) return this.lines[seen];
        }
        throw new Error(
          `${
            this.#exited ? "tool exited" : "timed out"
          } before a line matching ${what}\n--- stdout:\n${
            this.lines.join("\n")
          }\n--- stderr:\n${this.#stderr}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(100, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends SIGINT (Ctrl-C) and waits for the exit; SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<ToolResult> {
    if (!this.#exited) {
      try {
        this.#child.kill("SIGINT");
      } catch { /* already gone */ }
    }
    return await this.wait(timeoutMs);
  }

  /** Waits for the tool to exit on its own; SIGKILL after `timeoutMs`. */
  async wait(timeoutMs = 30_000): Promise<ToolResult> {
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
    }, timeoutMs);
    try {
      const status = await this.#done;
      await Promise.all(this.#readers);
      return {
        code: status.code,
        signal: status.signal,
        stdout: this.lines.join("\n"),
        stderr: this.#stderr,
        lines: this.lines,
      };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs a command to completion and returns its pid and exit code. */
export async function spawnAndWait(
  cmd: string,
  args: string[],
  options: Deno.CommandOptions = {},
): Promise<{ pid: number; code: number; stdout: string }> {
  const child = new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
    ...options,
  }).spawn();
  const out = await child.output();
  return {
    pid: child.pid,
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
  };
}

/** Splits an output line into whitespace-separated fields. */
export function fields(line: string): string[] {
  return line.trim().split(/\s+/);
}

/**
 * Asserts that a tool stopped by SIGINT exited with status 130 and printed
 * no error of its own (lines starting with `name:`) on the way out.
 */
export function assertInterrupted(res: ToolResult, name: string): void {
  if (res.code !== 130) {
    throw new Error(
      `${name}: exit status ${res.code} (signal ${res.signal}), expected 130 after SIGINT\n--- stderr:\n${res.stderr}`,
    );
  }
  const own = res.stderr.split("\n").filter((l) => l.startsWith(`${name}:`));
  if (own.length > 0) {
    throw new Error(`${name} printed errors when stopped:\n${own.join("\n")}`);
  }
}
