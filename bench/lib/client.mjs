// INDI clients written for the benchmark. They scan raw bytes instead of parsing XML so that the
// receiver is not the bottleneck: a flood receiver costs about three Buffer.indexOf calls per message.
import net from 'node:net'
import { patternBuffer } from './pattern.mjs'

const LT = 0x3c
const GT = 0x3e
const SEQ = Buffer.from('SEQ')
const ONE_BLOB = Buffer.from('<oneBLOB')
const DEFS_DONE = 'DEFS_DONE'
const PING_TIMEOUT = Buffer.from('PING_TIMEOUT')

const now = () => Number(process.hrtime.bigint()) / 1e6 // ms, sub-µs resolution

/** Opens a loopback TCP connection with Nagle off (latency and small control messages). */
export function connect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port })
    sock.setNoDelay(true)
    sock.once('connect', () => {
      sock.off('error', reject)
      resolve(sock)
    })
    sock.once('error', reject)
  })
}

/**
 * Connects, sends getProperties (with version, protocol reference section 0 rule 1) and waits until the
 * flood driver's DEFS_DONE message arrives, which proves the server has registered our interest in
 * device Bench. Returns the socket and the bytes that followed DEFS_DONE.
 */
export async function handshake(port, { blobs = false } = {}) {
  const sock = await connect(port)
  sock.on('error', () => {})
  sock.write('<getProperties version="1.7"/>\n')
  if (blobs) sock.write('<enableBLOB device="Bench">Also</enableBLOB>\n')
  const rest = await new Promise((resolve, reject) => {
    let text = ''
    const onData = (chunk) => {
      text += chunk.toString('latin1')
      const at = text.indexOf(DEFS_DONE)
      if (at < 0) return
      const end = text.indexOf('>', at)
      if (end < 0) return
      sock.off('data', onData)
      sock.off('close', onClose)
      sock.pause()
      resolve(Buffer.from(text.slice(end + 1), 'latin1'))
    }
    const onClose = () => reject(new Error('connection closed before DEFS_DONE'))
    sock.on('data', onData)
    sock.once('close', onClose)
  })
  return { sock, rest }
}

/** Sends the flood driver's CONTROL command (see drivers/flood.c). */
export function control(sock, { mode, count, rate = 0, size = 0, ping = 1, nums = 0 }) {
  const m = { MODE: mode, COUNT: count, RATE: rate, SIZE: size, PING: ping, NUMS: nums }
  const body = Object.entries(m)
    .map(([k, v]) => `<oneNumber name="${k}">${v}</oneNumber>`)
    .join('')
  sock.write(`<newNumberVector device="Bench" name="CONTROL">${body}</newNumberVector>\n`)
}

/**
 * Counts FLOOD updates by their SEQ member and checks the order. The definition carries SEQ -1 and is
 * skipped, so def bursts answering other clients' getProperties never count as data.
 */
export class SeqCounter {
  constructor(expected) {
    this.expected = expected
    this.received = 0
    this.next = 0
    this.missing = 0
    this.outOfOrder = 0
    this.tLast = 0
  }

  /** Scans `buf` up to its last '<' (so every SEQ value found is complete) and returns the rest. */
  scan(buf, from = 0, to = buf.length) {
    const cut = buf.lastIndexOf(LT, to - 1)
    if (cut < from) return buf.subarray(from, to)
    let i = from
    let seen = false
    for (;;) {
      i = buf.indexOf(SEQ, i)
      if (i < 0 || i >= cut) break
      const q = buf[i - 1]
      if ((q !== 0x22 && q !== 0x27) || buf[i + 3] !== q) {
        i += 3
        continue
      }
      let j = buf.indexOf(GT, i + 4) + 1
      while (buf[j] === 0x20 || buf[j] === 0x0a || buf[j] === 0x09 || buf[j] === 0x0d) j++
      if (buf[j] !== 0x2d) {
        let v = 0
        while (buf[j] >= 0x30 && buf[j] <= 0x39) v = v * 10 + buf[j++] - 0x30
        this.received++
        seen = true
        if (v === this.next) this.next++
        else if (v > this.next) {
          this.missing += v - this.next
          this.next = v + 1
        } else this.outOfOrder++
      }
      i = j
    }
    if (seen) this.tLast = now()
    return buf.subarray(cut, to)
  }

  get complete() {
    return this.received >= this.expected && this.next === this.expected
  }

  /** The last update arrived: a server that conflates updates for a lagging client ends here too. */
  get sawLast() {
    return this.next >= this.expected
  }
}

/**
 * Reads a flood from `sock` until `expected` updates arrived or `signal` aborts (the time bound).
 * Resolves with counts and the arrival time of the last update.
 */
export function receiveFlood(sock, rest, expected, signal) {
  const counter = new SeqCounter(expected)
  return new Promise((resolve) => {
    let carry = rest.length ? counter.scan(rest) : rest
    const finish = () => {
      sock.off('data', onData)
      signal.removeEventListener('abort', finish)
      sock.pause()
      resolve(counter)
    }
    const onData = (chunk) => {
      const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk
      carry = counter.scan(buf)
      if (counter.sawLast) finish()
    }
    if (counter.sawLast) return finish()
    sock.on('data', onData)
    sock.once('close', finish)
    signal.addEventListener('abort', finish, { once: true })
    sock.resume()
  })
}

/**
 * Receives BLOBs (and any FLOOD updates between them). The hot path only looks for the '<' that ends
 * each base64 body; the bodies are kept and verified after the clock stops, so verification cost
 * does not cap the measured rate.
 */
export class BlobReceiver {
  constructor(expectedBlobs, expectedSeq = 0) {
    this.seq = new SeqCounter(expectedSeq)
    this.expectedBlobs = expectedBlobs
    this.blobs = [] // { index, size, parts, t }
    this.inBody = false
    this.current = undefined
    this.bytes = 0
    this.tLastBlob = 0
    this.pingTimeout = false // the driver gave up waiting for a pingReply (drivers/flood.c)
  }

  push(buf) {
    let pos = 0
    while (pos < buf.length) {
      if (this.inBody) {
        const end = buf.indexOf(LT, pos)
        if (end < 0) {
          this.current.parts.push(buf.subarray(pos))
          this.bytes += buf.length - pos
          return Buffer.alloc(0)
        }
        this.current.parts.push(buf.subarray(pos, end))
        this.bytes += end - pos
        this.current.t = now()
        this.tLastBlob = this.current.t
        this.blobs.push(this.current)
        this.inBody = false
        pos = end
        continue
      }
      const ob = buf.indexOf(ONE_BLOB, pos)
      const pt = buf.indexOf(PING_TIMEOUT, pos)
      if (pt >= 0 && (ob < 0 || pt < ob)) this.pingTimeout = true
      if (ob < 0) return this.seq.scan(buf, pos)
      this.seq.scan(buf, pos, ob)
      const gt = buf.indexOf(GT, ob)
      if (gt < 0) return buf.subarray(ob)
      const head = buf.toString('latin1', ob, gt)
      const size = Number(/size=["'](\d+)/.exec(head)?.[1] ?? -1)
      const index = Number(/format=["']\.bin(\d+)/.exec(head)?.[1] ?? -1)
      pos = gt + 1
      if (buf[gt - 1] === 0x2f) continue // <oneBLOB .../>: no body
      this.current = { index, size, parts: [], t: 0 }
      this.inBody = true
    }
    return Buffer.alloc(0)
  }

  get complete() {
    return this.blobs.length >= this.expectedBlobs && this.seq.complete
  }

  /** Decodes every body and compares it with the driver's pattern. Returns the number that differ. */
  verify(size) {
    let corrupt = 0
    let decodedBytes = 0
    for (const [i, b] of this.blobs.entries()) {
      const decoded = Buffer.from(Buffer.concat(b.parts).toString('latin1'), 'base64')
      decodedBytes += decoded.length
      if (b.index !== i || b.size !== size || !decoded.equals(patternBuffer(i, size))) corrupt++
      b.parts = undefined
    }
    return { corrupt, decodedBytes }
  }
}

/** Feeds `sock` into a BlobReceiver until it is complete, the socket closes or `signal` aborts. */
export function receiveBlobs(sock, rest, receiver, signal) {
  return new Promise((resolve) => {
    let carry = rest.length ? receiver.push(rest) : rest
    const finish = () => {
      sock.off('data', onData)
      signal.removeEventListener('abort', finish)
      sock.pause()
      resolve(receiver)
    }
    const onData = (chunk) => {
      carry = receiver.push(carry.length ? Buffer.concat([carry, chunk]) : chunk)
      if (receiver.complete) finish()
    }
    if (receiver.complete) return finish()
    sock.on('data', onData)
    sock.once('close', finish)
    signal.addEventListener('abort', finish, { once: true })
    sock.resume()
  })
}

/**
 * Round trips newNumberVector ECHO -> driver -> setNumberVector ECHO, one at a time.
 * Returns each round trip in microseconds.
 */
export function echoRoundTrips(sock, rest, count, signal) {
  return new Promise((resolve) => {
    const samples = []
    let text = rest.toString('latin1')
    let id = 0
    let t0 = 0
    const send = () => {
      id++
      t0 = now()
      sock.write(
        `<newNumberVector device="Bench" name="ECHO"><oneNumber name="ID">${id}</oneNumber></newNumberVector>\n`,
      )
    }
    const finish = () => {
      sock.off('data', onData)
      signal.removeEventListener('abort', finish)
      sock.pause()
      resolve(samples)
    }
    // The trailing \s*< makes sure the digits were not cut by a chunk boundary.
    const re = /name=["']ID["'][^>]*>\s*(\d+)\s*</g
    const onData = (chunk) => {
      text += chunk.toString('latin1')
      re.lastIndex = 0
      let last = 0
      for (let m = re.exec(text); m; m = re.exec(text)) {
        last = re.lastIndex
        if (Number(m[1]) === id) {
          samples.push((now() - t0) * 1000)
          if (samples.length >= count) return finish()
          send()
        }
      }
      text = text.slice(last)
      if (text.length > 8192) text = text.slice(-1024)
    }
    sock.on('data', onData)
    sock.once('close', finish)
    signal.addEventListener('abort', finish, { once: true })
    sock.resume()
    send()
  })
}

/** Sends a pingRequest and resolves on the matching pingReply (servers answer pings themselves). */
export function ping(sock, uid, signal) {
  return new Promise((resolve) => {
    let text = ''
    const finish = (ok) => {
      sock.off('data', onData)
      signal.removeEventListener('abort', onAbort)
      sock.pause()
      resolve(ok)
    }
    const onAbort = () => finish(false)
    const onData = (chunk) => {
      text += chunk.toString('latin1')
      if (text.includes(`pingReply uid="${uid}"`) || text.includes(`pingReply uid='${uid}'`)) finish(true)
      else if (text.length > 4096) text = text.slice(-256)
    }
    sock.on('data', onData)
    signal.addEventListener('abort', onAbort, { once: true })
    sock.resume()
    sock.write(`<pingRequest uid="${uid}"/>\n`)
  })
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

export { now }
