/** @indi-ts/indi-server: An indiserver-compatible INDI server: in-process and executable drivers, remotes, BLOB policy, snooping. */
export {}
