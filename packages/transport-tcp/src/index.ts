/** @indi-ts/transport-tcp: INDI over TCP: listen for clients and connect to servers, with backpressure. */
export {}
