/** @indi-ts/transport-stdio: INDI over stdin/stdout: a driver's own stdio, and spawning executable drivers. */
export {}
