/**
 * A strict, small XML element parser over one complete top-level element already decoded to a
 * string. The splitter found the element's extent; this checks well-formedness (tag matching,
 * quoting, entities, characters, limits) and builds a minimal tree.
 *
 * It works on a JS string with `indexOf`/`slice`, which V8 runs far faster than byte-by-byte
 * decoding: one `utf8Slice` of the whole element costs ~110 ns for 330 bytes, whereas a native
 * slice per attribute costs ~65 ns each (measured on the bench input).
 */

import { isSpaceByte } from './bytes.js'
import { decodeEntities } from './entities.js'
import type { ResolvedLimits } from './splitter.js'

/** One element: name, attributes as flat [name, value, …] pairs (entities decoded), trimmed text. */
export interface XmlNode {
  readonly name: string
  readonly attrs: string[]
  /** Own text (not descendants'), entities decoded, trimmed of XML whitespace at both ends. */
  text: string
  readonly children: XmlNode[]
}

/** A well-formedness or limit failure at `index` (UTF-16 index in the element string). */
export class TreeError {
  constructor(
    readonly code: 'ERR_INDI_XML_MALFORMED' | 'ERR_INDI_XML_TOO_LARGE',
    readonly message: string,
    readonly index: number,
  ) {}
}

// C0 controls other than tab/LF/CR, U+FFFE and U+FFFF are not XML characters. (Lone surrogates
// cannot come out of UTF-8 decoding, and character references are checked one by one.)
const BAD_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/

/** Value of an attribute in a node, or undefined. */
export function attr(node: XmlNode, name: string): string | undefined {
  const a = node.attrs
  for (let i = 0; i < a.length; i += 2) if (a[i] === name) return a[i + 1]
  return undefined
}

/** Trim XML whitespace (space, tab, LF, CR) at both ends, as lilxml does; not JS trim()'s wider set. */
export function trimXml(s: string): string {
  let a = 0
  let b = s.length
  while (a < b && isSpaceByte(s.charCodeAt(a))) a++
  while (b > a && isSpaceByte(s.charCodeAt(b - 1))) b--
  return a === 0 && b === s.length ? s : s.slice(a, b)
}

function isNameStart(c: number): boolean {
  if (c < 0x80) return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58
  return (
    (c >= 0xc0 && c <= 0xd6) ||
    (c >= 0xd8 && c <= 0xf6) ||
    (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) ||
    (c >= 0x37f && c <= 0x1fff) ||
    c === 0x200c ||
    c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) ||
    (c >= 0x2c00 && c <= 0x2fef) ||
    (c >= 0x3001 && c <= 0xdfff) || // includes surrogates: astral name characters
    (c >= 0xf900 && c <= 0xfdcf) ||
    (c >= 0xfdf0 && c <= 0xfffd)
  )
}

function isNameChar(c: number): boolean {
  if (c < 0x80) {
    return (
      (c >= 97 && c <= 122) ||
      (c >= 65 && c <= 90) ||
      (c >= 48 && c <= 57) ||
      c === 95 ||
      c === 58 ||
      c === 45 ||
      c === 46
    )
  }
  return isNameStart(c) || c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040
}

const NO_CHILDREN: XmlNode[] = []

/**
 * Parse one element. `rawText` names an element whose text is returned undecoded and unchecked
 * (BLOB base64, which may be megabytes: it is validated by the base64 decoder instead).
 */
export function parseTree(s: string, limits: ResolvedLimits, rawText?: string): XmlNode | TreeError {
  const checkWhole = rawText === undefined
  if (checkWhole) {
    const bad = s.search(BAD_CHAR)
    if (bad !== -1) return badChar(s, bad)
  }
  const stack: XmlNode[] = []
  let pos = 0
  let root: XmlNode | undefined
  const n = s.length
  while (pos < n) {
    const lt = s.indexOf('<', pos)
    if (lt === -1) break
    const top = stack[stack.length - 1]
    // Whitespace before any text is trimmed away in the end: skip it without slicing (most
    // segments are the indentation between members).
    let ws = pos
    if (top !== undefined && top.text === '') while (ws < lt && isSpaceByte(s.charCodeAt(ws))) ws++
    if (ws < lt && top !== undefined) {
      let seg = s.slice(pos, lt)
      if (top.name !== rawText) {
        if (!checkWhole) {
          const bad = seg.search(BAD_CHAR)
          if (bad !== -1) return badChar(s, pos + bad)
        }
        if (seg.indexOf('>') !== -1 && seg.indexOf(']]>') !== -1) {
          return new TreeError('ERR_INDI_XML_MALFORMED', "']]>' in text", pos + seg.indexOf(']]>'))
        }
        if (seg.indexOf('&') !== -1) {
          const d = decodeEntities(seg)
          if (typeof d !== 'string') return new TreeError('ERR_INDI_XML_MALFORMED', d.reason, pos + d.index)
          seg = d
        }
      }
      top.text = top.text === '' ? seg : top.text + seg
    } else if (lt > pos && top === undefined && trimXml(s.slice(pos, lt)) !== '') {
      return new TreeError('ERR_INDI_XML_MALFORMED', 'text outside the element', pos)
    }
    const c = s.charCodeAt(lt + 1)
    if (c === 47 /* / */) {
      // End tag: must close the innermost open element.
      if (top === undefined)
        return new TreeError('ERR_INDI_XML_MALFORMED', 'end tag with no element open', lt)
      const name = top.name
      let p = lt + 2 + name.length
      if (!s.startsWith(name, lt + 2) || (p < n && isNameChar(s.charCodeAt(p)))) {
        const gt = s.indexOf('>', lt)
        const got = s.slice(lt + 2, gt === -1 ? Math.min(n, lt + 40) : gt).trim()
        return new TreeError(
          'ERR_INDI_XML_MALFORMED',
          `mismatched end tag: <${name}> closed by </${got}>`,
          lt,
        )
      }
      while (p < n && isSpaceByte(s.charCodeAt(p))) p++
      if (s.charCodeAt(p) !== 62)
        return new TreeError('ERR_INDI_XML_MALFORMED', `malformed end tag </${name}>`, lt)
      top.text = trimXml(top.text)
      stack.pop()
      pos = p + 1
      if (stack.length === 0) {
        root = top
        break
      }
    } else if (c === 33 /* ! */) {
      if (top === undefined) return new TreeError('ERR_INDI_XML_MALFORMED', 'markup before the element', lt)
      if (s.startsWith('--', lt + 2)) {
        const end = s.indexOf('-->', lt + 4)
        if (end === -1) return new TreeError('ERR_INDI_XML_MALFORMED', 'unterminated comment', lt)
        const body = s.slice(lt + 4, end)
        if (body.indexOf('--') !== -1 || body.endsWith('-')) {
          return new TreeError('ERR_INDI_XML_MALFORMED', "'--' inside a comment", lt)
        }
        pos = end + 3
      } else if (s.startsWith('[CDATA[', lt + 2)) {
        const end = s.indexOf(']]>', lt + 9)
        if (end === -1) return new TreeError('ERR_INDI_XML_MALFORMED', 'unterminated CDATA section', lt)
        const seg = s.slice(lt + 9, end)
        top.text = top.text === '' ? seg : top.text + seg
        pos = end + 3
      } else {
        return new TreeError('ERR_INDI_XML_MALFORMED', "'<!' declaration inside an element", lt)
      }
    } else if (c === 63 /* ? */) {
      if (top === undefined) return new TreeError('ERR_INDI_XML_MALFORMED', 'markup before the element', lt)
      const end = s.indexOf('?>', lt + 2)
      if (end === -1)
        return new TreeError('ERR_INDI_XML_MALFORMED', 'unterminated processing instruction', lt)
      let p = lt + 2
      if (!isNameStart(s.charCodeAt(p))) {
        return new TreeError('ERR_INDI_XML_MALFORMED', 'processing instruction without a target', lt)
      }
      while (isNameChar(s.charCodeAt(p))) p++
      const target = s.slice(lt + 2, p)
      if (target.toLowerCase() === 'xml') {
        return new TreeError('ERR_INDI_XML_MALFORMED', 'XML declaration inside an element', lt)
      }
      if (p < end && !isSpaceByte(s.charCodeAt(p))) {
        return new TreeError('ERR_INDI_XML_MALFORMED', 'malformed processing instruction', lt)
      }
      pos = end + 2
    } else {
      // Start tag.
      if (!isNameStart(c)) return new TreeError('ERR_INDI_XML_MALFORMED', "'<' not followed by a name", lt)
      if (root !== undefined) return new TreeError('ERR_INDI_XML_MALFORMED', 'content after the element', lt)
      let p = lt + 2
      while (p < n && isNameChar(s.charCodeAt(p))) p++
      const node: XmlNode = { name: s.slice(lt + 1, p), attrs: [], text: '', children: NO_CHILDREN }
      if (!checkWhole) {
        const gt = s.indexOf('>', p)
        const bad = s.slice(lt, gt === -1 ? n : gt).search(BAD_CHAR)
        if (bad !== -1) return badChar(s, lt + bad)
      }
      const attrs = node.attrs
      let selfClosing = false
      for (;;) {
        if (p >= n)
          return new TreeError('ERR_INDI_XML_MALFORMED', `unterminated start tag <${node.name}>`, lt)
        let ch = s.charCodeAt(p)
        const spaced = isSpaceByte(ch)
        while (isSpaceByte(ch)) ch = s.charCodeAt(++p)
        if (ch === 62 /* > */) {
          p++
          break
        }
        if (ch === 47 /* / */) {
          if (s.charCodeAt(p + 1) !== 62) {
            return new TreeError('ERR_INDI_XML_MALFORMED', `'/' not followed by '>' in <${node.name}>`, p)
          }
          selfClosing = true
          p += 2
          break
        }
        if (!spaced || !isNameStart(ch)) {
          if (p >= n)
            return new TreeError('ERR_INDI_XML_MALFORMED', `unterminated start tag <${node.name}>`, lt)
          return new TreeError(
            'ERR_INDI_XML_MALFORMED',
            spaced
              ? `unexpected character in <${node.name}>`
              : `missing whitespace before an attribute in <${node.name}>`,
            p,
          )
        }
        const ns = p
        p++
        while (isNameChar(s.charCodeAt(p))) p++
        const an = s.slice(ns, p)
        ch = s.charCodeAt(p)
        while (isSpaceByte(ch)) ch = s.charCodeAt(++p)
        if (ch !== 61 /* = */)
          return new TreeError('ERR_INDI_XML_MALFORMED', `attribute ${an} without '='`, p)
        ch = s.charCodeAt(++p)
        while (isSpaceByte(ch)) ch = s.charCodeAt(++p)
        if (ch !== 34 && ch !== 39) {
          return new TreeError('ERR_INDI_XML_MALFORMED', `attribute ${an} value not quoted`, p)
        }
        const q = s.indexOf(ch === 34 ? '"' : "'", p + 1)
        if (q === -1)
          return new TreeError('ERR_INDI_XML_MALFORMED', `unterminated value of attribute ${an}`, p)
        let value = s.slice(p + 1, q)
        if (value.indexOf('<') !== -1) {
          return new TreeError(
            'ERR_INDI_XML_MALFORMED',
            `'<' in the value of attribute ${an}`,
            p + 1 + value.indexOf('<'),
          )
        }
        if (value.indexOf('&') !== -1) {
          const d = decodeEntities(value)
          if (typeof d !== 'string') return new TreeError('ERR_INDI_XML_MALFORMED', d.reason, p + 1 + d.index)
          value = d
        }
        for (let i = 0; i < attrs.length; i += 2) {
          if (attrs[i] === an) return new TreeError('ERR_INDI_XML_MALFORMED', `duplicate attribute ${an}`, ns)
        }
        if (attrs.length >= 2 * limits.maxAttributes) {
          return new TreeError('ERR_INDI_XML_TOO_LARGE', `more than ${limits.maxAttributes} attributes`, ns)
        }
        attrs.push(an, value)
        p = q + 1
      }
      if (stack.length >= limits.maxDepth) {
        return new TreeError('ERR_INDI_XML_TOO_LARGE', `elements nested deeper than ${limits.maxDepth}`, lt)
      }
      if (top !== undefined) {
        if (top.children === NO_CHILDREN) (top as { children: XmlNode[] }).children = []
        top.children.push(node)
      }
      if (selfClosing) {
        if (top === undefined) {
          root = node
          pos = p
          break
        }
      } else {
        stack.push(node)
      }
      pos = p
    }
  }
  if (root === undefined) {
    const open = stack[stack.length - 1]
    return new TreeError('ERR_INDI_XML_MALFORMED', `<${open?.name ?? '?'}> not closed`, s.length)
  }
  if (pos < n) {
    const rest = s.slice(pos)
    if (trimXml(rest) !== '') return new TreeError('ERR_INDI_XML_MALFORMED', 'content after the element', pos)
  }
  return root
}

function badChar(s: string, at: number): TreeError {
  const cp = s.charCodeAt(at)
  return new TreeError(
    'ERR_INDI_XML_MALFORMED',
    `character U+${cp.toString(16).toUpperCase().padStart(4, '0')} is not allowed in XML`,
    at,
  )
}
