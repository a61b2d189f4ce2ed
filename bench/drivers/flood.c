/*
 * flood: the INDI driver every server in the benchmark runs, so both columns see the same bytes.
 *
 * Compiled by bench/run.mjs with `gcc -O2` at bench time. It speaks INDI 1.7 on stdin/stdout as a
 * plain executable, like any libindi driver, and defines one device "Bench":
 *   FLOOD   (ro numbers SEQ, A, B)   setNumberVector stream; SEQ counts from 0, the def carries -1
 *   ECHO    (rw number ID)           newNumberVector ECHO -> setNumberVector ECHO with the same ID
 *   CONTROL (rw numbers)             MODE 1 = number flood, 2 = BLOBs; COUNT; RATE msgs/s (0 = unpaced);
 *                                    SIZE BLOB bytes; PING 1 = libindi ping flow control; NUMS = FLOOD
 *                                    updates sent after each BLOB
 *   BLOB    (ro blob DATA)           deterministic pattern, inline base64 in 72-char lines with enclen
 * After the definitions it sends <message device="Bench" message="DEFS_DONE"/> so a client knows its
 * getProperties was answered. Writes block: a server that stops reading stops the driver, which is
 * exactly the back-pressure a libindi driver sees.
 *
 * BLOB flow control follows libindi >= 1.9.7 (protocol reference section 0 rule 2) when PING=1: after
 * each setBLOBVector the driver sends <pingRequest uid="SetBLOB/N"/> and reads stdin until the matching
 * pingReply arrives (30 s cap so a server that never answers shows up as PING_TIMEOUT, not a hang).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char out[1 << 16];
static size_t outLen;
static char *in;
static size_t inLen, inCap;

static void die(const char *why) {
  fprintf(stderr, "flood: %s\n", why);
  exit(1);
}

static void writeAll(const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      exit(0); /* the server went away */
    }
    p += w;
    n -= (size_t)w;
  }
}

static void flush(void) {
  if (outLen) writeAll(out, outLen);
  outLen = 0;
}

static void emit(const char *p, size_t n) {
  if (outLen + n > sizeof out) flush();
  if (n > sizeof out) {
    writeAll(p, n);
    return;
  }
  memcpy(out + outLen, p, n);
  outLen += n;
}

static void emits(const char *s) { emit(s, strlen(s)); }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char stamp[32];
static void updateStamp(void) {
  time_t t = time(NULL);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", gmtime(&t));
}

static void sendDefs(void) {
  updateStamp();
  char b[4096];
  int n = snprintf(b, sizeof b,
      "<defNumberVector device=\"Bench\" name=\"FLOOD\" label=\"Flood\" group=\"Bench\" state=\"Idle\" "
      "perm=\"ro\" timeout=\"0\" timestamp=\"%s\">\n"
      "  <defNumber name=\"SEQ\" label=\"Sequence\" format=\"%%.0f\" min=\"-1\" max=\"1e12\" step=\"1\">-1</defNumber>\n"
      "  <defNumber name=\"A\" label=\"A\" format=\"%%.6f\" min=\"0\" max=\"0\" step=\"0\">0</defNumber>\n"
      "  <defNumber name=\"B\" label=\"B\" format=\"%%.6f\" min=\"0\" max=\"0\" step=\"0\">0</defNumber>\n"
      "</defNumberVector>\n"
      "<defNumberVector device=\"Bench\" name=\"ECHO\" label=\"Echo\" group=\"Bench\" state=\"Idle\" "
      "perm=\"rw\" timeout=\"0\" timestamp=\"%s\">\n"
      "  <defNumber name=\"ID\" label=\"Id\" format=\"%%.0f\" min=\"0\" max=\"0\" step=\"0\">0</defNumber>\n"
      "</defNumberVector>\n"
      "<defNumberVector device=\"Bench\" name=\"CONTROL\" label=\"Control\" group=\"Bench\" state=\"Idle\" "
      "perm=\"rw\" timeout=\"0\" timestamp=\"%s\">\n"
      "  <defNumber name=\"MODE\" label=\"Mode\" format=\"%%.0f\" min=\"0\" max=\"2\" step=\"1\">0</defNumber>\n"
      "  <defNumber name=\"COUNT\" label=\"Count\" format=\"%%.0f\" min=\"0\" max=\"0\" step=\"1\">0</defNumber>\n"
      "  <defNumber name=\"RATE\" label=\"Rate\" format=\"%%.0f\" min=\"0\" max=\"0\" step=\"1\">0</defNumber>\n"
      "  <defNumber name=\"SIZE\" label=\"Size\" format=\"%%.0f\" min=\"0\" max=\"0\" step=\"1\">0</defNumber>\n"
      "  <defNumber name=\"PING\" label=\"Ping\" format=\"%%.0f\" min=\"0\" max=\"1\" step=\"1\">1</defNumber>\n"
      "  <defNumber name=\"NUMS\" label=\"Nums\" format=\"%%.0f\" min=\"0\" max=\"0\" step=\"1\">0</defNumber>\n"
      "</defNumberVector>\n"
      "<defBLOBVector device=\"Bench\" name=\"BLOB\" label=\"Blob\" group=\"Bench\" state=\"Idle\" "
      "perm=\"ro\" timeout=\"0\" timestamp=\"%s\">\n"
      "  <defBLOB name=\"DATA\" label=\"Data\"/>\n"
      "</defBLOBVector>\n"
      "<message device=\"Bench\" timestamp=\"%s\" message=\"DEFS_DONE\"/>\n",
      stamp, stamp, stamp, stamp, stamp);
  emit(b, (size_t)n);
  flush();
}

static uint64_t seq;

static void floodOne(void) {
  char b[512];
  int n = snprintf(b, sizeof b,
      "<setNumberVector device=\"Bench\" name=\"FLOOD\" state=\"Ok\" timeout=\"0\" timestamp=\"%s\">\n"
      "  <oneNumber name=\"SEQ\">%llu</oneNumber>\n"
      "  <oneNumber name=\"A\">%.6f</oneNumber>\n"
      "  <oneNumber name=\"B\">%.20g</oneNumber>\n"
      "</setNumberVector>\n",
      stamp, (unsigned long long)seq, seq * 0.25, 1.0 / (double)(seq + 3));
  emit(b, (size_t)n);
  seq++;
}

static void message(const char *text) {
  char b[256];
  updateStamp();
  int n = snprintf(b, sizeof b, "<message device=\"Bench\" timestamp=\"%s\" message=\"%s\"/>\n", stamp, text);
  emit(b, (size_t)n);
  flush();
}

static void flood(uint64_t count, double rate) {
  updateStamp();
  seq = 0;
  if (rate <= 0) {
    for (uint64_t i = 0; i < count; i++) {
      if ((i & 1023) == 0) updateStamp();
      floodOne();
    }
  } else {
    /* Pace by due count rather than per-message sleeps: at 40 k/s a sleep per message would cost
       more than the message itself. Each pass sends what is due, one write per message. */
    double t0 = now();
    uint64_t sent = 0;
    while (sent < count) {
      uint64_t due = (uint64_t)((now() - t0) * rate) + 1;
      if (due > count) due = count;
      if (sent >= due) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
        continue;
      }
      updateStamp();
      while (sent < due) {
        floodOne();
        flush(); /* one write() per message, as a libindi driver's fflush per IDSet* does */
        sent++;
      }
    }
  }
  char text[64];
  snprintf(text, sizeof text, "FLOOD_DONE %llu", (unsigned long long)count);
  message(text);
}

/* ---- stdin framing: just enough XML for what servers send a driver ---- */

static int readMore(int timeoutMs) {
  struct pollfd p = {0, POLLIN, 0};
  int r = poll(&p, 1, timeoutMs);
  if (r == 0) return 0;
  if (r < 0) return errno == EINTR ? 0 : -1;
  if (inCap - inLen < 65536) {
    inCap = inCap ? inCap * 2 : 1 << 17;
    if (inCap > (64u << 20)) die("input element too large");
    in = realloc(in, inCap);
    if (!in) die("out of memory");
  }
  ssize_t n = read(0, in + inLen, inCap - inLen);
  if (n <= 0) exit(0); /* EOF: the server closed our stdin */
  inLen += (size_t)n;
  return 1;
}

/* Value of attribute `name` inside [start, end): accepts ' or " as libindi and indiserver differ. */
static int attr(const char *start, const char *end, const char *name, char *dst, size_t cap) {
  size_t nl = strlen(name);
  for (const char *p = start; p + nl + 2 < end; p++) {
    if ((p[-1] == ' ' || p[-1] == '\n' || p[-1] == '\t' || p[-1] == '\r') && memcmp(p, name, nl) == 0 &&
        p[nl] == '=' && (p[nl + 1] == '"' || p[nl + 1] == '\'')) {
      char q = p[nl + 1];
      const char *v = p + nl + 2;
      const char *e = memchr(v, q, (size_t)(end - v));
      if (!e) return 0;
      size_t len = (size_t)(e - v);
      if (len >= cap) len = cap - 1;
      memcpy(dst, v, len);
      dst[len] = 0;
      return 1;
    }
  }
  return 0;
}

static double member(const char *body, const char *end, const char *name, double dflt) {
  const char *p = body;
  char nm[64];
  while ((p = memmem(p, (size_t)(end - p), "<oneNumber", 10)) != NULL) {
    const char *gt = memchr(p, '>', (size_t)(end - p));
    if (!gt) break;
    if (attr(p + 10, gt, "name", nm, sizeof nm) && strcmp(nm, name) == 0) return strtod(gt + 1, NULL);
    p = gt;
  }
  return dflt;
}

static void sendBlobs(uint64_t count, size_t size, int ping, uint64_t nums);

/* Returns the tag of the element handled, or NULL when no complete element is buffered. Consumes it. */
static char lastTag[64], lastUid[80];
static int handleOne(void) {
  char *lt = memchr(in, '<', inLen);
  if (!lt) {
    inLen = 0;
    return 0;
  }
  if (lt != in) {
    memmove(in, lt, inLen - (size_t)(lt - in));
    inLen -= (size_t)(lt - in);
  }
  char *gt = memchr(in, '>', inLen);
  if (!gt) return 0;
  if (in[1] == '?' || in[1] == '!') { /* prolog or comment: skip */
    size_t used = (size_t)(gt - in) + 1;
    memmove(in, gt + 1, inLen - used);
    inLen -= used;
    return 1;
  }
  size_t tl = 0;
  while (1 + tl < (size_t)(gt - in) && !strchr(" \t\r\n/>", in[1 + tl])) tl++;
  if (tl >= sizeof lastTag) tl = sizeof lastTag - 1;
  memcpy(lastTag, in + 1, tl);
  lastTag[tl] = 0;
  char *elemEnd;
  if (gt[-1] == '/') {
    elemEnd = gt + 1;
  } else {
    char close[80];
    int cl = snprintf(close, sizeof close, "</%s>", lastTag);
    char *c = memmem(gt, inLen - (size_t)(gt - in), close, (size_t)cl);
    if (!c) return 0;
    elemEnd = c + cl;
  }
  char dev[80] = "", name[80] = "";
  attr(in + 1 + tl, gt, "device", dev, sizeof dev);
  attr(in + 1 + tl, gt, "name", name, sizeof name);
  lastUid[0] = 0;
  if (strcmp(lastTag, "getProperties") == 0) {
    if (dev[0] == 0 || strcmp(dev, "Bench") == 0) sendDefs();
  } else if (strcmp(lastTag, "pingRequest") == 0) {
    /* Clients' pings are normally answered by the server; a plain relay passes them on, so answer. */
    char uid[80] = "", b[160];
    attr(in + 1 + tl, gt, "uid", uid, sizeof uid);
    int n = snprintf(b, sizeof b, "<pingReply uid=\"%s\"/>\n", uid);
    emit(b, (size_t)n);
    flush();
  } else if (strcmp(lastTag, "pingReply") == 0) {
    attr(in + 1 + tl, gt, "uid", lastUid, sizeof lastUid);
  } else if (strcmp(lastTag, "newNumberVector") == 0 && strcmp(dev, "Bench") == 0) {
    if (strcmp(name, "ECHO") == 0) {
      char b[256];
      double id = member(gt, elemEnd, "ID", -1);
      int n = snprintf(b, sizeof b,
          "<setNumberVector device=\"Bench\" name=\"ECHO\" state=\"Ok\" timeout=\"0\" timestamp=\"%s\">\n"
          "  <oneNumber name=\"ID\">%.0f</oneNumber>\n</setNumberVector>\n",
          stamp, id);
      emit(b, (size_t)n);
      flush();
    } else if (strcmp(name, "CONTROL") == 0) {
      int mode = (int)member(gt, elemEnd, "MODE", 0);
      uint64_t count = (uint64_t)member(gt, elemEnd, "COUNT", 0);
      double rate = member(gt, elemEnd, "RATE", 0);
      size_t size = (size_t)member(gt, elemEnd, "SIZE", 0);
      int ping = (int)member(gt, elemEnd, "PING", 1);
      uint64_t nums = (uint64_t)member(gt, elemEnd, "NUMS", 0);
      size_t used = (size_t)(elemEnd - in);
      memmove(in, elemEnd, inLen - used);
      inLen -= used;
      if (mode == 1) flood(count, rate);
      if (mode == 2) sendBlobs(count, size, ping, nums);
      return 1;
    }
  }
  size_t used = (size_t)(elemEnd - in);
  memmove(in, elemEnd, inLen - used);
  inLen -= used;
  return 1;
}

/* ---- BLOBs ---- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Byte j of BLOB k; bench/lib/pattern.mjs computes the same so the client can verify every byte. */
static inline uint8_t patternByte(uint32_t j, uint32_t k) {
  uint32_t x = j * 0x9E3779B1u + k * 0x85EBCA77u;
  return (uint8_t)((x >> 24) ^ (j & 0xff));
}

static size_t encode(const uint8_t *raw, size_t size, char *enc) {
  /* libindi writes inline base64 in 72-character lines (protocol reference 1.3, oneBLOB). */
  size_t o = 0, col = 0;
  for (size_t j = 0; j < size; j += 3) {
    uint32_t v = (uint32_t)raw[j] << 16;
    if (j + 1 < size) v |= (uint32_t)raw[j + 1] << 8;
    if (j + 2 < size) v |= raw[j + 2];
    enc[o++] = B64[(v >> 18) & 63];
    enc[o++] = B64[(v >> 12) & 63];
    enc[o++] = j + 1 < size ? B64[(v >> 6) & 63] : '=';
    enc[o++] = j + 2 < size ? B64[v & 63] : '=';
    col += 4;
    if (col == 72) {
      enc[o++] = '\n';
      col = 0;
    }
  }
  if (col) enc[o++] = '\n';
  return o;
}

static void sendBlobs(uint64_t count, size_t size, int ping, uint64_t nums) {
  size_t enclen = (size + 2) / 3 * 4;
  size_t lines = (enclen + 71) / 72;
  uint8_t *raw = malloc(size + 3);
  char *enc = malloc(enclen + lines + 1);
  if (!raw || !enc) die("out of memory");
  /* BLOB k is pattern 0 with its first 6 bytes taken from pattern k: the driver encodes the body once
     and re-encodes only the first 8 base64 characters per BLOB, so the driver costs one write() per
     BLOB and the measured rate is the server's. The client still checks every byte and the index. */
  for (size_t j = 0; j < size; j++) raw[j] = patternByte((uint32_t)j, 0);
  size_t o = encode(raw, size, enc);
  seq = 0;
  for (uint64_t k = 0; k < count; k++) {
    if (size >= 6) {
      for (size_t j = 0; j < 6; j++) raw[j] = patternByte((uint32_t)j, (uint32_t)k);
      char head8[16];
      encode(raw, 6, head8);
      memcpy(enc, head8, 8);
    } else {
      for (size_t j = 0; j < size; j++) raw[j] = patternByte((uint32_t)j, (uint32_t)k);
      o = encode(raw, size, enc);
    }
    updateStamp();
    char head[512];
    int n = snprintf(head, sizeof head,
        "<setBLOBVector device=\"Bench\" name=\"BLOB\" state=\"Ok\" timeout=\"0\" timestamp=\"%s\">\n"
        "  <oneBLOB name=\"DATA\" size=\"%zu\" enclen=\"%zu\" format=\".bin%llu\">\n",
        stamp, size, enclen, (unsigned long long)k);
    emit(head, (size_t)n);
    flush();
    writeAll(enc, o);
    emits("  </oneBLOB>\n</setBLOBVector>\n");
    for (uint64_t i = 0; i < nums; i++) floodOne();
    if (ping) {
      char uid[64], b[128];
      snprintf(uid, sizeof uid, "SetBLOB/%llu", (unsigned long long)k);
      n = snprintf(b, sizeof b, "<pingRequest uid=\"%s\"/>\n", uid);
      emit(b, (size_t)n);
      flush();
      double deadline = now() + 30;
      int got = 0;
      while (!got) {
        while (handleOne()) {
          if (strcmp(lastTag, "pingReply") == 0 && strcmp(lastUid, uid) == 0) {
            got = 1;
            break;
          }
        }
        if (got) break;
        if (now() > deadline) {
          message("PING_TIMEOUT");
          free(raw);
          free(enc);
          return;
        }
        if (readMore(1000) < 0) exit(0);
      }
    } else {
      flush();
    }
  }
  free(raw);
  free(enc);
  char text[64];
  snprintf(text, sizeof text, "BLOB_DONE %llu", (unsigned long long)count);
  message(text);
}

int main(void) {
  setvbuf(stderr, NULL, _IOLBF, 0);
  updateStamp();
  for (;;) {
    while (handleOne()) {
    }
    if (readMore(-1) < 0) return 0;
  }
}
