import { IndiError } from '@indi-ts/indi-xml'
import { describe, expect, it } from 'vitest'
import { parseArgs, parseDriverArg, USAGE } from '../src/args.js'
import { fifoEnv, parseFifoLine } from '../src/fifo.js'

describe('indi-server command line (indiserver §2.1)', () => {
  it('has indiserver defaults', () => {
    const o = parseArgs(['indi_simulator_ccd'])
    expect(o).toMatchObject({
      port: 7624,
      maxQueueMB: 128,
      maxStreamMB: 5,
      restarts: 10,
      verbosity: 0,
      host: '127.0.0.1',
    })
    expect(o.drivers).toEqual([{ kind: 'exec', command: 'indi_simulator_ccd' }])
  })

  it('parses -p, -m, -d, -r, -f, -l, -u', () => {
    const o = parseArgs([
      '-p',
      '17801',
      '-m',
      '1',
      '-d',
      '0',
      '-r',
      '2',
      '-f',
      '/tmp/f',
      '-l',
      '/tmp/logs',
      '-u',
      '/tmp/sock',
      'drv',
    ])
    expect(o).toMatchObject({
      port: 17801,
      maxQueueMB: 1,
      maxStreamMB: 0,
      restarts: 2,
      fifo: '/tmp/f',
      logDir: '/tmp/logs',
      unixSocket: '/tmp/sock',
    })
  })

  it('counts clustered and repeated -v up to 3', () => {
    expect(parseArgs(['-v', 'x']).verbosity).toBe(1)
    expect(parseArgs(['-vv', 'x']).verbosity).toBe(2)
    expect(parseArgs(['-vvv', 'x']).verbosity).toBe(3)
    expect(parseArgs(['-v', '-vvv', 'x']).verbosity).toBe(3)
  })

  it('lets a clustered flag take the next argument as its value', () => {
    expect(parseArgs(['-vp', '17802', 'x'])).toMatchObject({ verbosity: 1, port: 17802 })
  })

  it('parses --host, --max-connections and --allow (both forms, repeatable)', () => {
    const o = parseArgs([
      '--host',
      '::1',
      '--max-connections=3',
      '--allow',
      '127.0.0.1,10.0.0.0/8',
      '--allow=::1',
      'x',
    ])
    expect(o).toMatchObject({ host: '::1', maxConnections: 3, allow: ['127.0.0.1', '10.0.0.0/8', '::1'] })
  })

  it('sets help for --help and -h', () => {
    expect(parseArgs(['--help']).help).toBe(true)
    expect(parseArgs(['-h']).help).toBe(true)
    expect(USAGE).toContain('--max-connections')
  })

  it('reads remotes as device@host:port and @host', () => {
    expect(parseArgs(['Telescope Simulator@localhost:17803', '@10.0.0.2']).drivers).toEqual([
      { kind: 'remote', device: 'Telescope Simulator', host: 'localhost', port: 17803 },
      { kind: 'remote', host: '10.0.0.2', port: 7624 },
    ])
  })

  it('reads bracketed and bare IPv6 remotes', () => {
    expect(parseDriverArg('@[::1]:17804')).toEqual({ kind: 'remote', host: '::1', port: 17804 })
    expect(parseDriverArg('@::1')).toEqual({ kind: 'remote', host: '::1', port: 7624 })
  })

  it.each([
    [['-p'], '-p needs a value'],
    [['-p', 'abc', 'x'], 'not a whole number'],
    [['-p', '70000', 'x'], 'outside'],
    [['-m', '-3', 'x'], 'not a size'],
    [['-q', 'x'], 'unknown option -q'],
    [['--nope', 'x'], 'unknown option --nope'],
    [['--allow', 'not-an-ip', 'x'], 'not an address'],
    [['--allow', '10.0.0.0/33', 'x'], 'not an address'],
    [['@:7624'], 'has no host'],
  ])('rejects %j with ERR_INDI_USAGE', (argv, message) => {
    let caught: unknown
    try {
      parseArgs(argv)
    } catch (err) {
      caught = err
    }
    expect(IndiError.is(caught, 'ERR_INDI_USAGE')).toBe(true)
    expect((caught as Error).message).toContain(message)
  })
})

describe('FIFO grammar (indiserver §2.11)', () => {
  it('parses start with every option', () => {
    const cmd = parseFifoLine(
      'start indi_simulator_focus -n "My Focuser" -c "/tmp/c.xml" -s "/tmp/sk.xml" -p "/opt/indi"',
    )
    expect(cmd).toEqual({
      op: 'start',
      driver: 'indi_simulator_focus',
      name: 'My Focuser',
      config: '/tmp/c.xml',
      skeleton: '/tmp/sk.xml',
      prefix: '/opt/indi',
    })
    expect(fifoEnv(cmd!)).toEqual({
      INDIDEV: 'My Focuser',
      INDICONFIG: '/tmp/c.xml',
      INDISKEL: '/tmp/sk.xml',
      INDIPREFIX: '/opt/indi',
    })
  })

  it('parses stop with -n', () => {
    expect(parseFifoLine('stop indi_simulator_focus -n "My Focuser"')).toEqual({
      op: 'stop',
      driver: 'indi_simulator_focus',
      name: 'My Focuser',
    })
  })

  it('strips quotes from a remote driver', () => {
    expect(parseFifoLine('start "Telescope Simulator"@localhost:17805')).toEqual({
      op: 'start',
      driver: 'Telescope Simulator@localhost:17805',
    })
  })

  it('stops reading options at the first unquoted one, as sscanf does', () => {
    expect(parseFifoLine('start drv -n Unquoted -c "x"')).toEqual({ op: 'start', driver: 'drv' })
  })

  it('ignores blank lines and unknown commands', () => {
    expect(parseFifoLine('   ')).toBeUndefined()
    expect(parseFifoLine('restart drv')).toBeUndefined()
  })
})
