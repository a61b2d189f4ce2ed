/** @indi-ts/indi-msgpack */
export {}
