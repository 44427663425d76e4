// Package proxyproto owns the header that carries a virtual connection's
// source and destination over a loopback connection of the userspace
// fabric, authenticated with the deployment's key (DESIGN.md §4).
//
// The userspace fabric carries every virtual connection over a real
// loopback TCP connection. The dialing side, once the flow engine has
// allowed the connection, writes a header first (Write); the receiving
// side reads it before anything else (Verifier.Read) and refuses the
// connection unless the header is present, well formed, authenticated with
// the deployment's Key, fresh and not seen before. A local process that
// connects to the loopback port directly therefore cannot claim a virtual
// source: it does not hold the key, and it cannot replay a header it
// observed.
//
// The header is a PROXY protocol v2 header
// (https://www.haproxy.org/download/1.8/doc/proxy-protocol.txt §2.2) for
// TCP over IPv4, with one TLV in the custom range (PP2_TYPE_MIN_CUSTOM) that
// holds the authentication. It is always 88 bytes:
//
//	offset size value
//	     0   12 \x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A  signature
//	    12    1 0x21     version 2, command PROXY
//	    13    1 0x11     AF_INET, STREAM
//	    14    2 72       length of the rest, big endian
//	    16    4          virtual source address
//	    20    4          virtual destination address
//	    24    2          virtual source port, big endian
//	    26    2          virtual destination port, big endian
//	    28    1 0xE0     TLV type (vnetml)
//	    29    2 57       TLV length, big endian
//	    31    1 1        TLV version
//	    32    8          timestamp, unix nanoseconds, big endian
//	    40   16          random nonce
//	    56   32          HMAC-SHA256 under the key of bytes 0 to 55
//
// The MAC covers every byte before it, the fixed part and its length
// included, so the only header Read accepts is one that Write produced
// with the key: no TLV may be added, removed or changed. The timestamp
// bounds how long a header stays valid (MaxSkew either way) and the nonce,
// remembered for that long, makes each header good for one connection.
package proxyproto
