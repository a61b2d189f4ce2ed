/**
 * From a well-formed element tree to a typed INDI message, checking what INDI requires: required
 * attributes present, enumerations valid, member elements of the right kind.
 */
import { Buffer } from 'node:buffer'
import { crackSwitchState, isBlobPolicy, isPropertyPerm, isPropertyState, isSwitchRule } from './guards.js'
import type { IndiMessage, OneBlob, PropertyPerm, PropertyState, SwitchRule } from './model.js'
import { attr, type XmlNode } from './tree.js'

class Invalid {
  constructor(readonly reason: string) {}
}

function req(node: XmlNode, name: string): string {
  const v = attr(node, name)
  if (v === undefined) throw new Invalid(`<${node.name}> is missing required attribute ${name}`)
  return v
}

function state(node: XmlNode, required: true): PropertyState
function state(node: XmlNode, required: false): PropertyState | undefined
function state(node: XmlNode, required: boolean): PropertyState | undefined {
  const v = required ? req(node, 'state') : attr(node, 'state')
  if (v === undefined) return undefined
  if (!isPropertyState(v)) throw new Invalid(`<${node.name}> has invalid state '${v}'`)
  return v
}

function perm(node: XmlNode): PropertyPerm {
  const v = req(node, 'perm')
  if (!isPropertyPerm(v)) throw new Invalid(`<${node.name}> has invalid perm '${v}'`)
  return v
}

function rule(node: XmlNode): SwitchRule {
  const v = req(node, 'rule')
  if (!isSwitchRule(v)) throw new Invalid(`<${node.name}> has invalid rule '${v}'`)
  return v
}

function members(node: XmlNode, member: string): XmlNode[] {
  const kids = node.children
  for (let i = 0; i < kids.length; i++) {
    if (kids[i]!.name !== member) {
      throw new Invalid(`<${node.name}> contains <${kids[i]!.name}>; only <${member}> is allowed`)
    }
  }
  return kids
}

function switchValue(m: XmlNode) {
  const v = crackSwitchState(m.text)
  if (v === undefined)
    throw new Invalid(`<${m.name} name="${attr(m, 'name')}"> must be On or Off, got '${m.text}'`)
  return v
}

function lightValue(m: XmlNode) {
  if (!isPropertyState(m.text)) {
    throw new Invalid(
      `<${m.name} name="${attr(m, 'name')}"> must be Idle, Ok, Busy or Alert, got '${m.text}'`,
    )
  }
  return m.text
}

function count(m: XmlNode, name: string, required: boolean): number | undefined {
  const v = required ? req(m, name) : attr(m, name)
  if (v === undefined) return undefined
  const t = v.trim()
  if (!/^\d+$/.test(t)) throw new Invalid(`<${m.name}> attribute ${name} must be a byte count, got '${v}'`)
  return Number(t)
}

/**
 * A string that no longer shares storage with the (possibly huge) element string it was cut from.
 * V8 slices of 13+ characters keep their parent alive; for BLOB elements that parent is megabytes.
 */
function own(s: string): string
function own(s: string | undefined): string | undefined
function own(s: string | undefined): string | undefined {
  return s === undefined || s.length < 13 ? s : ` ${s}`.slice(1)
}

function blob(m: XmlNode): OneBlob {
  const text = m.text
  // Node's base64 decoder skips whitespace (libindi wraps at 72 columns); ~3 GB/s here.
  const data = text.length === 0 ? new Uint8Array(0) : Buffer.from(text, 'base64')
  return {
    name: own(req(m, 'name')),
    size: count(m, 'size', true)!,
    format: own(req(m, 'format')),
    enclen: count(m, 'enclen', false),
    len: count(m, 'len', false),
    data,
  }
}

/** The message for a known top-level element, or the reason it is not a valid INDI message. */
export function toMessage(node: XmlNode): IndiMessage | string {
  try {
    return build(node)
  } catch (e) {
    if (e instanceof Invalid) return e.reason
    throw e
  }
}

function build(n: XmlNode): IndiMessage {
  switch (n.name) {
    case 'getProperties':
      return {
        tag: 'getProperties',
        version: attr(n, 'version'),
        device: attr(n, 'device'),
        name: attr(n, 'name'),
      }
    case 'enableBLOB': {
      const policy = n.text
      if (!isBlobPolicy(policy))
        throw new Invalid(`<enableBLOB> must contain Never, Also or Only, got '${policy}'`)
      return { tag: 'enableBLOB', device: req(n, 'device'), name: attr(n, 'name'), policy }
    }
    case 'pingRequest':
      return { tag: 'pingRequest', uid: req(n, 'uid') }
    case 'pingReply':
      return { tag: 'pingReply', uid: req(n, 'uid') }
    case 'message':
      return {
        tag: 'message',
        device: attr(n, 'device'),
        timestamp: attr(n, 'timestamp'),
        message: attr(n, 'message'),
      }
    case 'delProperty':
      return {
        tag: 'delProperty',
        device: req(n, 'device'),
        name: attr(n, 'name'),
        timestamp: attr(n, 'timestamp'),
        message: attr(n, 'message'),
      }
    case 'defTextVector':
      return {
        tag: 'defTextVector',
        ...defHead(n),
        perm: perm(n),
        timeout: attr(n, 'timeout'),
        members: members(n, 'defText').map((m) => ({
          name: req(m, 'name'),
          label: attr(m, 'label'),
          value: m.text,
        })),
      }
    case 'defNumberVector':
      return {
        tag: 'defNumberVector',
        ...defHead(n),
        perm: perm(n),
        timeout: attr(n, 'timeout'),
        members: members(n, 'defNumber').map((m) => ({
          name: req(m, 'name'),
          label: attr(m, 'label'),
          format: req(m, 'format'),
          min: req(m, 'min'),
          max: req(m, 'max'),
          step: req(m, 'step'),
          value: m.text,
        })),
      }
    case 'defSwitchVector':
      return {
        tag: 'defSwitchVector',
        ...defHead(n),
        perm: perm(n),
        rule: rule(n),
        timeout: attr(n, 'timeout'),
        members: members(n, 'defSwitch').map((m) => ({
          name: req(m, 'name'),
          label: attr(m, 'label'),
          value: switchValue(m),
        })),
      }
    case 'defLightVector':
      return {
        tag: 'defLightVector',
        ...defHead(n),
        members: members(n, 'defLight').map((m) => ({
          name: req(m, 'name'),
          label: attr(m, 'label'),
          value: lightValue(m),
        })),
      }
    case 'defBLOBVector':
      return {
        tag: 'defBLOBVector',
        ...defHead(n),
        perm: perm(n),
        timeout: attr(n, 'timeout'),
        members: members(n, 'defBLOB').map((m) => ({ name: req(m, 'name'), label: attr(m, 'label') })),
      }
    case 'setTextVector':
      return {
        tag: 'setTextVector',
        ...setHead(n),
        timeout: attr(n, 'timeout'),
        members: members(n, 'oneText').map((m) => ({ name: req(m, 'name'), value: m.text })),
      }
    case 'setNumberVector': {
      const kids = members(n, 'oneNumber')
      const out = new Array(kids.length)
      for (let i = 0; i < kids.length; i++) out[i] = oneNumber(kids[i]!)
      // Written out rather than spread from setHead(): the hottest message on the wire.
      return {
        tag: 'setNumberVector',
        device: req(n, 'device'),
        name: req(n, 'name'),
        state: state(n, false),
        timestamp: attr(n, 'timestamp'),
        message: attr(n, 'message'),
        timeout: attr(n, 'timeout'),
        members: out,
      }
    }
    case 'setSwitchVector':
      return {
        tag: 'setSwitchVector',
        ...setHead(n),
        timeout: attr(n, 'timeout'),
        members: members(n, 'oneSwitch').map((m) => ({ name: req(m, 'name'), value: switchValue(m) })),
      }
    case 'setLightVector':
      return {
        tag: 'setLightVector',
        ...setHead(n),
        members: members(n, 'oneLight').map((m) => ({ name: req(m, 'name'), value: lightValue(m) })),
      }
    case 'setBLOBVector':
      return {
        tag: 'setBLOBVector',
        device: own(req(n, 'device')),
        name: own(req(n, 'name')),
        state: state(n, false),
        timestamp: own(attr(n, 'timestamp')),
        message: own(attr(n, 'message')),
        timeout: own(attr(n, 'timeout')),
        members: members(n, 'oneBLOB').map(blob),
      }
    case 'newTextVector':
      return {
        tag: 'newTextVector',
        ...newHead(n),
        members: members(n, 'oneText').map((m) => ({ name: req(m, 'name'), value: m.text })),
      }
    case 'newNumberVector':
      return { tag: 'newNumberVector', ...newHead(n), members: members(n, 'oneNumber').map(oneNumber) }
    case 'newSwitchVector':
      return {
        tag: 'newSwitchVector',
        ...newHead(n),
        members: members(n, 'oneSwitch').map((m) => ({ name: req(m, 'name'), value: switchValue(m) })),
      }
    case 'newBLOBVector':
      return {
        tag: 'newBLOBVector',
        device: own(req(n, 'device')),
        name: own(req(n, 'name')),
        timestamp: own(attr(n, 'timestamp')),
        members: members(n, 'oneBLOB').map(blob),
      }
    default:
      throw new Invalid(`<${n.name}> is not an INDI message`)
  }
}

function oneNumber(m: XmlNode) {
  // Scan the attributes once: this is the hottest member type (telescope coordinates).
  const a = m.attrs
  let name: string | undefined
  let min: string | undefined
  let max: string | undefined
  let step: string | undefined
  for (let i = 0; i < a.length; i += 2) {
    switch (a[i]) {
      case 'name':
        name = a[i + 1]
        break
      case 'min':
        min = a[i + 1]
        break
      case 'max':
        max = a[i + 1]
        break
      case 'step':
        step = a[i + 1]
        break
    }
  }
  if (name === undefined) throw new Invalid(`<${m.name}> is missing required attribute name`)
  return { name, value: m.text, min, max, step }
}

function defHead(n: XmlNode) {
  return {
    device: req(n, 'device'),
    name: req(n, 'name'),
    label: attr(n, 'label'),
    group: attr(n, 'group'),
    state: state(n, true),
    timestamp: attr(n, 'timestamp'),
    message: attr(n, 'message'),
  }
}

function setHead(n: XmlNode) {
  return {
    device: req(n, 'device'),
    name: req(n, 'name'),
    state: state(n, false),
    timestamp: attr(n, 'timestamp'),
    message: attr(n, 'message'),
  }
}

function newHead(n: XmlNode) {
  return { device: req(n, 'device'), name: req(n, 'name'), timestamp: attr(n, 'timestamp') }
}
