/**
 * Scenario 6: a driver built on @indi-ts/indi-driver runs as an executable under indilib's
 * indiserver (stdin/stdout are an AF_UNIX socketpair there, indi-protocol.md §2.3) and under ours.
 * indi_getprop sees its properties; indi_setprop changes them and the driver's reply is seen.
 */
import { resolve } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type Element,
  fixturesDir,
  getprop,
  hasIndi,
  is,
  portBlock,
  propertyNames,
  propertyValues,
  type RawClient,
  type RunningServer,
  serverKinds,
  setprop,
  startServer,
  stopAllServers,
  waitForDevices,
} from './harness.js'

const nextPort = portBlock(18054, 10)
const DEVICE = 'TS Fixture'
const driverPath = resolve(fixturesDir, 'ts-fixture-driver.mjs')

/** Predicate: a set*Vector of DEVICE.name in state Ok whose members include `member`=`text`. */
const okSet =
  (tag: string, name: string, member: string, check: (text: string) => boolean) =>
  (e: Element): boolean =>
    is(tag, DEVICE, name)(e) &&
    e.attrs.state === 'Ok' &&
    e.children.some((c) => c.attrs.name === member && check(c.text))

describe.skipIf(!hasIndi).each(serverKinds)('interop on %s: an @indi-ts/indi-driver executable', (kind) => {
  let server: RunningServer
  let watcher: RawClient

  beforeEach(async () => {
    server = await startServer({ kind, port: nextPort(), drivers: [driverPath] })
    watcher = await waitForDevices(server.port, [DEVICE], { property: 'NOTE' }).catch(async (err) => {
      throw new Error(`no definitions from ${driverPath}; server log:\n${server.log.join('\n')}`, {
        cause: err,
      })
    })
  })
  afterEach(async () => {
    watcher?.close()
    await server?.stop()
  })
  afterAll(stopAllServers)

  it('indi_getprop lists every member of its three vectors', async () => {
    const listed = await getprop(server.port)
    expect(listed.code).toBe(0)
    const members = ['TARGET.TEMPERATURE', 'TARGET.HOUR_ANGLE', 'MODE.HEAT', 'MODE.COOL', 'NOTE.TEXT']
    expect([...propertyNames(listed.stdout)].sort()).toEqual(members.map((m) => `${DEVICE}.${m}`).sort())
    const values = propertyValues(listed.stdout)
    expect(Number(values.get(`${DEVICE}.TARGET.TEMPERATURE`))).toBe(20)
    expect(values.get(`${DEVICE}.MODE.HEAT`)).toBe('On')
    expect(values.get(`${DEVICE}.NOTE.TEXT`)).toBe('hello')
  })

  it('indi_setprop sets numbers (sexagesimal too) and the reply is seen by getprop', async () => {
    const from = watcher.mark()
    const set = await setprop(server.port, [`${DEVICE}.TARGET.TEMPERATURE;HOUR_ANGLE=12.5;-1:30`])
    expect(set.code).toBe(0)
    await watcher.waitFor(
      okSet('setNumberVector', 'TARGET', 'HOUR_ANGLE', (t) => Number(t) === -1.5),
      10_000,
      from,
    )
    const values = propertyValues(
      (await getprop(server.port, [`${DEVICE}.TARGET.TEMPERATURE`, `${DEVICE}.TARGET.HOUR_ANGLE`])).stdout,
    )
    expect(Number(values.get(`${DEVICE}.TARGET.TEMPERATURE`))).toBe(12.5)
    expect(Number(values.get(`${DEVICE}.TARGET.HOUR_ANGLE`))).toBe(-1.5)
  })

  it('indi_setprop switches a OneOfMany member On and the driver turns the other Off', async () => {
    const from = watcher.mark()
    expect((await setprop(server.port, [`${DEVICE}.MODE.COOL=On`])).code).toBe(0)
    const reply = await watcher.waitFor(
      okSet('setSwitchVector', 'MODE', 'COOL', (t) => t === 'On'),
      10_000,
      from,
    )
    expect(reply.children.find((c) => c.attrs.name === 'HEAT')?.text).toBe('Off')
  })

  it('indi_setprop sets UTF-8 text with spaces and the reply carries it', async () => {
    // indi_setprop writes text unescaped, so `&` or `<` would be malformed XML: not used here.
    const from = watcher.mark()
    expect((await setprop(server.port, [`${DEVICE}.NOTE.TEXT=clear skies at -5 °C`])).code).toBe(0)
    await watcher.waitFor(
      okSet('setTextVector', 'NOTE', 'TEXT', (t) => t === 'clear skies at -5 °C'),
      10_000,
      from,
    )
  })

  it('indi_setprop typed forms (-n, -s, -x) reach the driver without a definition round trip', async () => {
    const from = watcher.mark()
    const typed = await setprop(server.port, [
      '-n',
      `${DEVICE}.TARGET.TEMPERATURE;HOUR_ANGLE=-7.5;2:15`,
      '-s',
      `${DEVICE}.MODE.COOL=On`,
      '-x',
      `${DEVICE}.NOTE.TEXT=typed`,
    ])
    expect(typed.code).toBe(0)
    await watcher.waitFor(
      okSet('setNumberVector', 'TARGET', 'HOUR_ANGLE', (t) => Number(t) === 2.25),
      10_000,
      from,
    )
    await watcher.waitFor(
      okSet('setSwitchVector', 'MODE', 'COOL', (t) => t === 'On'),
      10_000,
      from,
    )
    await watcher.waitFor(
      okSet('setTextVector', 'NOTE', 'TEXT', (t) => t === 'typed'),
      10_000,
      from,
    )
  })
})
