/** @indi-ts/indi-driver: Write INDI drivers in TypeScript: devices, vectors, client and snoop events, hardware loop. */
export {}
