/**
 * Errors of the generators.
 *
 * @module
 */

/** An error of the generator: its message is one line, fit for a CLI. */
export class GenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GenError";
  }
}
