// AsioScheduler (server/master/scheduler.h) on a real io_context: callbacks run once, on the io thread;
// a cancelled callback never runs, even when its timer had already expired.
#include "server/master/scheduler.h"

#include <gtest/gtest.h>

#include <vector>

namespace esg {
namespace {

TEST(AsioSchedulerTest, RunsCallbacksOnceInDueOrder) {
  boost::asio::io_context io;
  AsioScheduler scheduler(io);
  std::vector<int> ran;
  Scheduler::TimerId second = scheduler.RunAfter(std::chrono::milliseconds(2), [&ran] { ran.push_back(2); });
  Scheduler::TimerId first = scheduler.RunAfter(std::chrono::milliseconds(0), [&ran] { ran.push_back(1); });
  EXPECT_NE(first, 0u);
  EXPECT_NE(first, second);
  EXPECT_TRUE(ran.empty());  // never from inside RunAfter
  io.run();
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  scheduler.Cancel(first);  // already ran: a no-op
  scheduler.Cancel(0);
}

TEST(AsioSchedulerTest, ACancelledCallbackNeverRuns) {
  boost::asio::io_context io;
  AsioScheduler scheduler(io);
  bool ran = false;
  scheduler.Cancel(scheduler.RunAfter(std::chrono::milliseconds(0), [&ran] { ran = true; }));
  io.run();
  EXPECT_FALSE(ran);
}

TEST(AsioSchedulerTest, ACallbackMayCancelAnotherThatExpiredWithIt) {
  boost::asio::io_context io;
  AsioScheduler scheduler(io);
  int ran = 0;
  Scheduler::TimerId a = 0;
  Scheduler::TimerId b = 0;
  // Both expire in the same pass; whichever runs first cancels the other, which must then not run.
  a = scheduler.RunAfter(std::chrono::milliseconds(0), [&] {
    ++ran;
    scheduler.Cancel(b);
  });
  b = scheduler.RunAfter(std::chrono::milliseconds(0), [&] {
    ++ran;
    scheduler.Cancel(a);
  });
  io.run();
  EXPECT_EQ(ran, 1);
}

TEST(AsioSchedulerTest, ACallbackMayScheduleAnother) {
  boost::asio::io_context io;
  AsioScheduler scheduler(io);
  int ticks = 0;
  std::function<void()> tick = [&] {
    if (++ticks < 3) scheduler.RunAfter(std::chrono::milliseconds(0), tick);
  };
  scheduler.RunAfter(std::chrono::milliseconds(0), tick);
  io.run();
  EXPECT_EQ(ticks, 3);
}

}  // namespace
}  // namespace esg
