// Server implementation: accepting, the deadline tick, connection bookkeeping and the buffer pool.
#include "server/engine/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "server/common/log.h"

namespace esg::engine {

Server::Server(EngineConfig config, AppChannel* channel, const Clock& clock)
    : config_(std::move(config)), channel_(channel), clock_(clock) {
  deferred_flush_.set_coalesce(config_.coalesce_streams);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer_fd_ >= 0) {
    // Deadlines (keep-alive, request head) are checked four times a second.
    struct itimerspec spec = {{0, 250000000}, {0, 250000000}};
    timerfd_settime(timer_fd_, 0, &spec, nullptr);
    reactor_.Add(timer_fd_, EPOLLIN, &timer_);
  }
}

Server::~Server() {
  CloseAll();
  Reap();
  for (auto& l : listeners_) {
    if (l->fd >= 0) close(l->fd);
  }
  if (timer_fd_ >= 0) close(timer_fd_);
  for (char* b : buffer_pool_) delete[] b;
}

bool Server::AddListener(int fd, bool unix_socket, const std::string& host, int port) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return false;
  auto listener = std::make_unique<Listener>();
  listener->server = this;
  listener->fd = fd;
  listener->unix_socket = unix_socket;
  listener->host = host;
  listener->port = port;
  if (!reactor_.Add(fd, EPOLLIN, listener.get())) return false;
  listeners_.push_back(std::move(listener));
  return true;
}

void Listener::OnEvents(uint32_t) { server->Accept(this); }

void Server::Accept(Listener* listener) {
  // Bounded per wakeup, so a flood of connects cannot starve the requests already in flight.
  for (int i = 0; i < 256 && listener->fd >= 0; ++i) {
    union {
      struct sockaddr_storage ss;
      struct sockaddr_in in4;
      struct sockaddr_in6 in6;
    } addr;
    socklen_t len = sizeof addr;
    int fd = accept4(listener->fd, reinterpret_cast<struct sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int error = errno;
      switch (error) {
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
          return;
        case EINTR:
        case ECONNABORTED:
          continue;
        case EINVAL:
          // The master shut this listener down as a graceful stop began (server/master/listeners.h,
          // StopListening): it will never accept again, so stop watching it instead of failing each turn.
          reactor_.Remove(listener->fd);
          close(listener->fd);
          listener->fd = -1;
          return;
        // Network errors of one pending connection, which Linux reports through accept() (accept(2)):
        // that connection is gone, the next one may be fine.
        case EPROTO:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case EOPNOTSUPP:
        case ENETUNREACH:
        case ENETDOWN:
        case EPERM:  // a firewall rule refused it
          LogAcceptError(error, "skipped that connection");
          continue;
        default:
          // EMFILE, ENFILE, ENOBUFS, ENOMEM, or a broken listener: retrying at once would only spin.
          PauseAccepting(error);
          return;
      }
    }
    PeerInfo peer;
    peer.fd = fd;
    char text[INET6_ADDRSTRLEN] = "";
    if (addr.ss.ss_family == AF_INET) {
      inet_ntop(AF_INET, &addr.in4.sin_addr, text, sizeof text);
      peer.client_port = ntohs(addr.in4.sin_port);
    } else if (addr.ss.ss_family == AF_INET6) {
      inet_ntop(AF_INET6, &addr.in6.sin6_addr, text, sizeof text);
      peer.client_port = ntohs(addr.in6.sin6_port);
    }
    if (!listener->unix_socket) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      peer.client_host = text;
      peer.client_text = peer.client_host + ":" + std::to_string(peer.client_port);
    } else {
      peer.client_text = "unix:" + listener->host;
    }
    auto* connection = new Connection(this, fd, listener, std::move(peer),
                                      listener->make_transport ? listener->make_transport(fd) : MakePlainTransport(fd));
    connections_.push_back(connection);
    connection->Start();
  }
}

void Server::LogAcceptError(int error, const char* what) {
  ++accept_failures_;
  double now = Now();
  if (now - accept_logged_at_ < kAcceptLogInterval) return;
  log::Error().error("accept() failed: {} ({} time{} in the last {:g}s); {}", strerror(error), accept_failures_,
                     accept_failures_ == 1 ? "" : "s", kAcceptLogInterval, what);
  accept_logged_at_ = now;
  accept_failures_ = 0;
}

void Server::PauseAccepting(int error) {
  LogAcceptError(error, error == EMFILE || error == ENFILE
                            ? "not accepting for a while; raise the descriptor limit (ulimit -n, LimitNOFILE=)"
                            : "not accepting for a while");
  accept_resume_at_ = Now() + kAcceptBackoff;
  if (accept_paused_) return;
  accept_paused_ = true;
  for (auto& l : listeners_) {
    if (l->fd >= 0) reactor_.Remove(l->fd);
  }
}

void Server::ResumeAccepting() {
  if (!accept_paused_) return;
  accept_paused_ = false;
  // Level-triggered: connections already waiting make the next epoll_wait report the listener.
  for (auto& l : listeners_) {
    if (l->fd >= 0) reactor_.Add(l->fd, EPOLLIN, l.get());
  }
}

int Server::RunOnce() {
  // What the last turn's tasks sent goes out before new input.
  if (!deferred_flush_.empty()) deferred_flush_.Run(/*scheduled=*/false);
  int n = reactor_.RunOnce();
  Reap();
  return n;
}

void Server::Timer::OnEvents(uint32_t) {
  uint64_t expirations;
  while (read(server_->timer_fd_, &expirations, sizeof expirations) > 0) {
  }
  server_->Tick();
}

void Server::Tick() {
  double now = Now();
  if (accept_paused_ && now >= accept_resume_at_) ResumeAccepting();
  for (size_t i = 0; i < connections_.size(); ++i) connections_[i]->CheckDeadline(now);
}

void Server::Retire(Connection* connection) { retired_.push_back(connection); }

void Server::Reap() {
  if (retired_.empty()) return;
  ResumeAccepting();  // a descriptor is free again (no-op unless accepting was paused)
  for (Connection* c : retired_) {
    auto it = std::find(connections_.begin(), connections_.end(), c);
    if (it != connections_.end()) {
      *it = connections_.back();
      connections_.pop_back();
    }
    if (c->flush_listed()) deferred_flush_.Forget(c);
    delete c;
  }
  retired_.clear();
}

void Server::StopAccepting() {
  for (auto& l : listeners_) {
    if (l->fd >= 0) {
      reactor_.Remove(l->fd);
      close(l->fd);
      l->fd = -1;
    }
  }
}

void Server::BeginDrain(bool keep_idle) {
  draining_ = true;
  for (size_t i = 0; i < connections_.size(); ++i) connections_[i]->BeginDrain(keep_idle);
  Reap();
}

size_t Server::fresh_connections() const {
  size_t n = 0;
  for (const Connection* c : connections_) n += c->fresh() ? 1 : 0;
  return n;
}

void Server::CloseWebSockets(int code) {
  for (size_t i = 0; i < connections_.size(); ++i) connections_[i]->CloseWebSocket(code);
}

void Server::CloseAll() {
  // Chunks deferred to the end of the turn (or held a turn) belong to answers already sent: out first.
  if (!deferred_flush_.empty()) deferred_flush_.Run(/*scheduled=*/false);
  for (size_t i = 0; i < connections_.size(); ++i) connections_[i]->Close();
}

char* Server::AcquireBuffer() {
  if (buffer_pool_.empty()) return new char[kBufferSize];
  char* b = buffer_pool_.back();
  buffer_pool_.pop_back();
  return b;
}

void Server::ReleaseBuffer(char* buffer) {
  // Keep a modest pool: enough for bursts, without holding memory for every idle connection.
  if (buffer_pool_.size() < 256) {
    buffer_pool_.push_back(buffer);
  } else {
    delete[] buffer;
  }
}

}  // namespace esg::engine
