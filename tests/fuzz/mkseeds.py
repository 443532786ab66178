#!/usr/bin/env python3
# Write the hand-made seeds of the fuzz corpora: one input per protocol
# violation class (and a few good flows), in the input formats documented
# at the top of each fuzz_*.c.  The rest of each corpus was found by the
# fuzzers and minimised (tools/scripts/fuzz.sh --merge).
#
# Usage: tests/fuzz/mkseeds.py   (rewrites tests/fuzz/corpus/*/hand-*)
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NEXT, WRITE, INDIRECT = 1, 2, 4
EVENT_IDX, INDIRECT_F, REFUSE, NO_XL = 1, 2, 4, 8


def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'hand-' + name), 'wb') as f:
        f.write(data)


def desc(addr, ln, flags, nxt):
    return struct.pack('<QIHH', addr, ln, flags, nxt)


# ---- vq-device: [code][flags][area u16][ring image][area][ops] ----

def dev(name, code, flags, descs, heads, avail_idx=None, area=b'', ops=b'',
        used_event=0):
    n = 2 << code
    table = bytearray(16 * n)
    for i, d in descs.items():
        table[16 * i:16 * i + 16] = desc(*d)
    ring = [0] * n
    for k, h in enumerate(heads):
        ring[k % n] = h
    idx = len(heads) if avail_idx is None else avail_idx
    avail = struct.pack('<HH', 0, idx) + struct.pack('<%dH' % n, *ring) + \
        struct.pack('<H', used_event)
    used = bytes(6 + 8 * n)
    data = struct.pack('<BBH', code, flags, len(area)) + bytes(table) + avail + used
    write('vq-device', name, data + area + ops)


def tab(*entries):
    return b''.join(desc(*e) for e in entries)


POP, PUSH, POKE, NOTIFY, DIS, EN, PUSHALL = 0, 2, 3, 4, 5, 6, 7


def device_seeds():
    c8 = 2  # queue size 8
    dev('good-direct', c8, 0, {0: (0x1000, 100, NEXT, 1), 1: (0x2000, 50, WRITE, 0)}, [0],
        ops=bytes([POP, PUSH, 0, 255, NOTIFY]))
    dev('good-event-idx', c8, EVENT_IDX,
        {i: (i, 10, WRITE, 0) for i in range(8)}, list(range(8)),
        ops=bytes([POP, POP, PUSH, 1, 100, NOTIFY, DIS, POP, EN, PUSHALL, NOTIFY]))
    dev('good-indirect', c8, INDIRECT_F, {3: (0, 48, INDIRECT, 0)}, [3],
        area=tab((1, 10, NEXT, 1), (2, 20, NEXT | WRITE, 2), (3, 30, WRITE, 0)),
        ops=bytes([POP, PUSH, 0, 128]))
    dev('poke-head-in-use', c8, 0, {0: (0, 8, 0, 0), 1: (0, 8, 0, 0)}, [0],
        ops=bytes([POP, POKE, 65, 0, 2, 0, POKE, 66, 0, 1, 0, POP, PUSHALL]))
    dev('avail-jump', c8, 0, {}, [], avail_idx=9)
    dev('head-range', c8, 0, {}, [8])
    dev('head-in-use', c8, 0, {3: (0, 10, 0, 0)}, [3, 3], ops=bytes([POP, POP]))
    dev('next-range', c8, 0, {2: (0, 10, NEXT, 8)}, [2])
    dev('loop-self', c8, 0, {5: (0, 10, NEXT, 5)}, [5])
    dev('loop-two', c8, 0, {1: (0, 10, NEXT, 6), 6: (0, 10, NEXT, 4), 4: (0, 10, NEXT, 6)},
        [1])
    dev('chain-too-long', 8, 0, {i: (0, 1, NEXT, i + 1) for i in range(300)}, [0])
    dev('read-after-write', c8, 0,
        {0: (0, 10, NEXT, 1), 1: (0, 10, NEXT | WRITE, 2), 2: (0, 10, 0, 0)}, [0])
    dev('zero-len', c8, 0, {0: (0, 10, NEXT, 7), 7: (0, 0, WRITE, 0)}, [0])
    dev('seg-too-big', c8, 0, {4: (0, (4 << 20) + 1, WRITE, 0)}, [4])
    dev('chain-too-big', 4, 0, {i: (0, 4 << 20, NEXT if i < 16 else 0, i + 1)
                                for i in range(17)}, [0])
    dev('indirect-not-negotiated', c8, EVENT_IDX, {3: (0, 16, INDIRECT, 0)}, [3],
        area=tab((0, 10, 0, 0)))
    dev('indirect-not-head', c8, INDIRECT_F, {0: (0, 10, NEXT, 1), 1: (0, 16, INDIRECT, 0)},
        [0], area=tab((0, 10, 0, 0)))
    dev('indirect-next', c8, INDIRECT_F, {2: (0, 16, INDIRECT | NEXT, 3)}, [2],
        area=tab((0, 10, 0, 0)))
    dev('indirect-nested', c8, INDIRECT_F, {5: (0, 32, INDIRECT, 0)}, [5],
        area=tab((0, 10, NEXT, 1), (0, 16, INDIRECT, 0)))
    dev('indirect-len-zero', c8, INDIRECT_F, {6: (0, 0, INDIRECT, 0)}, [6])
    dev('indirect-len-odd', c8, INDIRECT_F, {6: (0, 24, INDIRECT, 0)}, [6], area=bytes(32))
    dev('indirect-len-big', c8, INDIRECT_F, {6: (0, 4112, INDIRECT, 0)}, [6],
        area=bytes(4112))
    dev('indirect-refused', c8, INDIRECT_F | REFUSE, {1: (0, 16, INDIRECT, 0)}, [1],
        area=tab((0, 10, 0, 0)))
    dev('indirect-no-xlate', c8, INDIRECT_F | NO_XL, {1: (0, 16, INDIRECT, 0)}, [1],
        area=tab((0, 10, 0, 0)))
    dev('indirect-outside', c8, INDIRECT_F, {1: (8, 16, INDIRECT, 0)}, [1],
        area=tab((0, 10, 0, 0)))
    dev('indirect-next-range', c8, INDIRECT_F, {0: (0, 32, INDIRECT, 0)}, [0],
        area=tab((0, 10, NEXT, 1), (0, 10, NEXT, 2), (0, 10, 0, 0)))
    dev('indirect-loop', c8, INDIRECT_F, {4: (0, 48, INDIRECT, 0)}, [4],
        area=tab((0, 10, NEXT, 2), (0, 10, WRITE, 0), (0, 10, NEXT, 0)))
    dev('indirect-zero-len', c8, INDIRECT_F, {4: (0, 32, INDIRECT, 0)}, [4],
        area=tab((0, 10, NEXT, 1), (0, 0, WRITE, 0)))
    dev('indirect-max', 0, INDIRECT_F, {1: (0, 4096, INDIRECT, 0)}, [1],
        area=tab(*[(j, 1, NEXT if j < 255 else 0, j + 1) for j in range(256)]))


# ---- vq-driver: [code][flags][ops] ----

ADD, KICK, HONEST, RAW, UIDX, GET, CB, POKE_D, RESET = 0, 2, 3, 4, 5, 6, 7, 8, 9


def add(n, nread, ind=0, start=0, lens=None):
    lens = lens or [9] * n
    return bytes([ADD, n - 1, nread, ind, start] + lens)


def raw(id_, ln):
    return bytes([RAW]) + struct.pack('<HH', id_, ln)


def drv(name, code, flags, ops):
    write('vq-driver', name, bytes([code, flags]) + ops)


def driver_seeds():
    c8 = 2
    three = add(1, 0) + add(2, 1) + add(1, 1)   # ids 0, 1-2, 3
    drv('good', c8, 0, three + bytes([KICK, HONEST, 0, 254, HONEST, 1, 100, GET, RESET]))
    drv('good-event-idx', c8, EVENT_IDX | INDIRECT_F,
        add(3, 1, ind=1) + add(2, 0) + bytes([KICK, CB | 0x80, HONEST, 0, 10, GET, CB,
                                              HONEST, 1, 0, GET]))
    drv('reset-in-flight', c8, 0, three + bytes([KICK, HONEST, 1, 5, GET]) + add(1, 0) +
        bytes([RESET]))
    drv('id-range', c8, 0, three + bytes([KICK]) + raw(8, 0) + bytes([GET]))
    drv('id-huge', c8, 0, three + bytes([KICK, RAW | 0x80, 0, 0, 0xff, 0xff, 0, 0, GET]))
    drv('not-in-flight', c8, 0, three + bytes([KICK]) + raw(5, 0) + bytes([GET]))
    drv('not-head', c8, 0, three + bytes([KICK]) + raw(2, 0) + bytes([GET]))
    drv('len', c8, 0, three + bytes([KICK, HONEST, 1, 255, GET]))
    drv('twice', c8, 0, three + bytes([KICK]) + raw(0, 1) + raw(0, 1) + bytes([GET]))
    drv('idx-jump', c8, 0, three + bytes([KICK, UIDX, 9, 0, GET]))
    drv('idx-backwards', c8, 0, three + bytes([KICK]) + raw(0, 0) +
        bytes([GET, UIDX, 0, 0, GET]))
    drv('unpublished', c8, 0, three + raw(0, 0) + bytes([GET]))
    # id 0 twice in one batch; the driver takes one entry, re-posts id 0
    # and publishes it before it looks at the second
    drv('repeat-reposted', c8, 0, three + bytes([KICK]) + raw(0, 1) + raw(0, 1) +
        bytes([GET | 0x80]) + add(1, 0) + bytes([KICK, GET]))
    drv('broken-then-reset', c8, 0, three + bytes([KICK]) + raw(7, 0) +
        bytes([GET, RESET]) + three + bytes([KICK, HONEST, 0, 1, GET]))


# ---- xs-parse: [which][flags][lo u64][hi u64][qsize][value] ----

U64, I64, BOOL, ENUM, STR = range(5)
PLUS, ZEROS, SPACE = 1, 2, 4


def xs(name, which, value, flags=0, lo=0, hi=2**64 - 1, qsize=40):
    write('xs-parse', name, struct.pack('<BBQQB', which, flags, lo % 2**64, hi % 2**64, qsize)
          + value)


def parse_seeds():
    xs('u64-zero', U64, b'0')
    xs('u64-max', U64, b'18446744073709551615')
    xs('u64-overflow', U64, b'18446744073709551616')
    xs('u64-overflow-junk', U64, b'99999999999999999999x')
    xs('u64-range', U64, b'1025', lo=2, hi=1024)
    xs('u64-leading-zero', U64, b'007')
    xs('u64-zeros-ok', U64, b'007', flags=ZEROS)
    xs('u64-plus', U64, b'+5', flags=PLUS)
    xs('u64-space', U64, b' \t42\n', flags=SPACE)
    xs('u64-minus', U64, b'-1')
    xs('u64-nul', U64, b'1\x002')
    xs('u64-empty', U64, b'')
    xs('i64-min', I64, b'-9223372036854775808', lo=-2**63, hi=2**63 - 1)
    xs('i64-below-min', I64, b'-9223372036854775809', lo=-2**63, hi=2**63 - 1)
    xs('i64-minus-zero', I64, b'-0', lo=-5, hi=5)
    xs('i64-plus-minus', I64, b'+-3', flags=PLUS, lo=-5, hi=5)
    xs('bool-one', BOOL, b'1')
    xs('bool-two', BOOL, b'2')
    xs('enum-grant', ENUM, b'grant')
    xs('enum-empty', ENUM, b'')
    xs('enum-prefix', ENUM, b'gran')
    xs('str-limit', STR, b'abcdef', lo=5)
    xs('str-nul', STR, b'ab\x00cd', lo=100)
    xs('quote-escapes', STR, b'"\\\x01\x7f\xff' * 20, lo=4095, qsize=0)
    xs('quote-long', STR, b'x' * 300, lo=4095, qsize=255)


if __name__ == '__main__':
    device_seeds()
    driver_seeds()
    parse_seeds()


# ---- blk-req: [flags][cap u16][nout][nin][len u16...][readable bytes] ----

def blk(name, flags, cap, outs, ins, payload):
    b = struct.pack('<BHBB', flags, cap, len(outs), len(ins))
    for ln in outs + ins:
        b += struct.pack('<H', ln)
    write('blk-req', name, b + payload)


def hdr(t, sector):
    return struct.pack('<IIQ', t, 0, sector)


def rng(sector, n, flags=0):
    return struct.pack('<QII', sector, n, flags)


blk('read', 0, 64, [16], [512, 1], hdr(0, 8))
blk('read-shared-status', 0, 64, [16], [513], hdr(0, 8))
blk('read-split', 0, 64, [8, 8], [100, 412, 1], hdr(0, 8))
blk('read-beyond', 0, 64, [16], [1024, 1], hdr(0, 63))
blk('read-4k-misaligned', 4, 64, [16], [4096, 1], hdr(0, 1))
blk('write', 0, 64, [16, 512], [1], hdr(1, 8) + bytes(512))
blk('write-shared', 0, 64, [528], [1], hdr(1, 8) + bytes(512))
blk('write-ro', 1, 64, [16, 512], [1], hdr(1, 8) + bytes(512))
blk('write-odd', 0, 64, [16, 500], [1], hdr(1, 8) + bytes(500))
blk('flush', 0, 64, [16], [1], hdr(4, 0))
blk('flush-data', 0, 64, [16, 512], [1], hdr(4, 0) + bytes(512))
blk('getid', 0, 64, [16], [20, 1], hdr(8, 0))
blk('getid-empty', 0, 64, [16], [1], hdr(8, 0))
blk('discard', 2, 64, [16, 32], [1], hdr(11, 0) + rng(0, 8) + rng(16, 8))
blk('discard-off', 0, 64, [16, 16], [1], hdr(11, 0) + rng(0, 8))
blk('discard-unmap', 2, 64, [16, 16], [1], hdr(11, 0) + rng(0, 8, 1))
blk('wzeroes-unmap', 2, 64, [16, 16], [1], hdr(13, 0) + rng(0, 8, 1))
blk('wzeroes-flags', 2, 64, [16, 16], [1], hdr(13, 0) + rng(0, 8, 6))
blk('wzeroes-beyond', 2, 64, [16, 16], [1], hdr(13, 0) + rng(60, 8))
blk('unknown', 0, 64, [16], [1], hdr(99, 0))
blk('no-header', 0, 64, [15], [1], hdr(0, 0)[:15])
blk('no-status', 0, 64, [16], [], hdr(0, 0))
blk('zero-iovs', 0, 64, [0, 16, 0], [0, 512, 0, 1, 0], hdr(0, 0))
