/** @indi-ts/transport-nats */
export {}
