// AsioScheduler (see scheduler.h).
#include "server/master/scheduler.h"

namespace esg {

Scheduler::TimerId AsioScheduler::RunAfter(Clock::duration after, std::function<void()> callback) {
  const TimerId id = next_id_++;
  auto timer = std::make_unique<boost::asio::steady_timer>(io_);
  timer->expires_after(after);
  timer->async_wait([this, id, callback = std::move(callback)](const boost::system::error_code& ec) {
    // Cancelled: either aborted, or Cancel came after the timer expired but before this ran (Asio then
    // reports success); Cancel dropped the timer in both cases, and a cancelled callback never runs.
    auto it = timers_.find(id);
    if (ec || it == timers_.end()) return;
    timers_.erase(it);  // destroys the timer running this handler: Asio allows it (the handler was moved out)
    callback();
  });
  timers_[id] = std::move(timer);
  return id;
}

void AsioScheduler::Cancel(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  // The aborted handler still runs later; it finds the id gone and returns.
  it->second->cancel();
  timers_.erase(it);
}

}  // namespace esg
