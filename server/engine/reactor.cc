// Reactor implementation: non-blocking epoll_wait batches dispatched to EventHandlers.
#include "server/engine/reactor.h"

#include <unistd.h>

namespace esg::engine {

Reactor::Reactor() : epfd_(epoll_create1(EPOLL_CLOEXEC)) {}

Reactor::~Reactor() {
  if (epfd_ >= 0) close(epfd_);
}

bool Reactor::Add(int fd, uint32_t events, EventHandler* handler) {
  struct epoll_event ev;
  ev.events = events;
  ev.data.ptr = handler;
  return epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void Reactor::Remove(int fd) { epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

int Reactor::RunOnce(int max_rounds) {
  constexpr int kBatch = 128;
  struct epoll_event events[kBatch];
  int total = 0;
  for (int round = 0; round < max_rounds; ++round) {
    int n = epoll_wait(epfd_, events, kBatch, 0);
    if (n <= 0) break;
    for (int i = 0; i < n; ++i) static_cast<EventHandler*>(events[i].data.ptr)->OnEvents(events[i].events);
    total += n;
    if (n < kBatch) break;
  }
  return total;
}

}  // namespace esg::engine
