import { describe, expect, it } from 'vitest'
import { loadedIndiMsgpack, loadIndiMsgpack } from '../src/lazy.js'

describe('@indi-ts/indi-msgpack/lazy', () => {
  it('loads the package once, on the first call, and then hands it out synchronously', async () => {
    expect(loadedIndiMsgpack()).toBeUndefined()
    const first = loadIndiMsgpack()
    expect(loadIndiMsgpack()).toBe(first)
    const m = await first
    expect(typeof m.encodeFrame).toBe('function')
    expect(typeof m.binaryAsXml).toBe('function')
    expect(loadedIndiMsgpack()).toBe(m)
  })
})
