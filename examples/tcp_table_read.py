#!/usr/bin/env python3
"""CPU per read of /proc/thread-self/net/tcp{,6} in a check's network namespace: made from the
machine's namespace (its 262,144-bucket table) or from a parent whose tcp_child_ehash_entries is
8192, as driver/src/contain.rs does. Root, Linux 6.1+: `python3 examples/tcp_table_read.py`."""
import ctypes, threading, os, time
libc = ctypes.CDLL(None, use_errno=True)
NEWNET = 0x40000000
def bench(label, small):
    def t():
        if small:
            assert libc.unshare(NEWNET) == 0
            open('/proc/sys/net/ipv4/tcp_child_ehash_entries','w').write('8192')
        assert libc.unshare(NEWNET) == 0
        tw = open('/proc/sys/net/ipv4/tcp_max_tw_buckets').read().strip()
        c0 = time.thread_time(); w0 = time.time()
        for _ in range(2000):
            open('/proc/thread-self/net/tcp').read(); open('/proc/thread-self/net/tcp6').read()
        print(f"{label}: tw_buckets={tw}  {(time.thread_time()-c0)/2000*1e6:.0f} us CPU per read of tcp+tcp6")
    th = threading.Thread(target=t); th.start(); th.join()
bench("machine's table (before)", False)
bench("own 8192-bucket table (now)", True)
