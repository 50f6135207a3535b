// TLS transport: OpenSSL on the connection's non-blocking descriptor, behind the Transport seam.
//
// Design: OpenSSL reads and writes the socket itself (SSL_set_fd, a socket BIO), not memory BIOs. That
// saves a copy each way and keeps errno meanings intact; the price is that OpenSSL, not the connection,
// issues the read(2)/write(2) calls — which is fine on the single reactor thread.
//
// Contract (the same as the plain transport, so Connection needs no TLS branch in its data path):
//  - Read() returns decrypted bytes, 0 at end of stream (close_notify or a bare FIN), or -1 with errno:
//    EAGAIN when nothing can be done until the next epoll edge, EPROTO for a failed handshake or a
//    corrupt record. It runs the server-side handshake on the first calls. It keeps calling SSL_read
//    until the caller's buffer is full or the socket says EAGAIN, so that — exactly as with read(2) — a
//    short read means the socket is drained and an edge-triggered reactor will report new bytes. (A
//    single SSL_read returns one record; stopping there would strand bytes already in the kernel.)
//  - Writev() encrypts the iovecs and returns how many plaintext bytes were taken, or -1/EAGAIN when
//    none could be. Small iovecs are gathered into one buffer of up to 16 KiB so a response head and a
//    small body go out as one record. After a short write or EAGAIN the caller must retry with the same
//    bytes from the first one not taken (they may live at another address: ACCEPT_MOVING_WRITE_BUFFER),
//    as Connection does with its out_ copy.
//  - A TLS step may need the opposite direction: read_wants_writable() says the last Read() stopped
//    because the socket would not take handshake/alert bytes (retry Read on EPOLLOUT);
//    write_wants_readable() says the last Writev() needs the peer's bytes first (retry on EPOLLIN).
//  - Shutdown(graceful) is called once before the descriptor is closed: true sends close_notify (best
//    effort, never blocks, only after a successful handshake and no fatal error); false sends nothing, so
//    a peer cannot take a cut-short (aborted) response for a complete one. Later calls do nothing.
//
// Not thread-safe: one connection, one thread. The descriptor is not owned.
#pragma once

#include <memory>

#include "server/engine/tls_context.h"
#include "server/engine/transport.h"

namespace esg::engine {

// Never nullptr: if OpenSSL cannot create the session (out of memory), every call fails with ENOMEM and the
// connection closes.
std::unique_ptr<Transport> MakeTlsTransport(std::shared_ptr<TlsContext> context, int fd);

}  // namespace esg::engine
