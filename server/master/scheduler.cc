// AsioScheduler (see scheduler.h).
#include "server/master/scheduler.h"

namespace esg {

Scheduler::TimerId AsioScheduler::RunAfter(Clock::duration after, std::function<void()> callback) {
  const TimerId id = next_id_++;
  auto timer = std::make_unique<boost::asio::steady_timer>(io_);
  timer->expires_after(after);
  timer->async_wait([this, id, callback = std::move(callback)](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: Cancel already dropped the timer
    timers_.erase(id);
    callback();
  });
  timers_[id] = std::move(timer);
  return id;
}

void AsioScheduler::Cancel(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  // The aborted handler runs later and must not touch a destroyed timer: cancel, then let the handler's
  // own copy of the state go (the handler captures only `this` and the id).
  it->second->cancel();
  timers_.erase(it);
}

}  // namespace esg
