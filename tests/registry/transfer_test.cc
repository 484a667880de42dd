#include "registry/transfer.h"

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <vector>
#include <thread>

#include <gtest/gtest.h>

#include "util/error.h"

namespace sealift::registry {
namespace {

TEST(TransferScheduler, RunsEachKeyOnceAndSharesTheOutcome) {
  TransferScheduler s(3);
  std::atomic<int> runs{0};
  auto a = s.submit("push p/a@sha256:1", [&] { ++runs; });
  auto b = s.submit("push p/a@sha256:1", [&] { runs += 100; });
  auto c = s.submit("push p/b@sha256:1", [&] { ++runs; });
  s.wait();
  EXPECT_EQ(runs, 2);
  a.get();
  b.get();
  c.get();
}

TEST(TransferScheduler, NeverRunsMoreThanItsJobsAtOnce) {
  TransferScheduler s(2);
  std::atomic<int> running{0}, peak{0};
  for (int i = 0; i < 12; ++i) {
    s.submit(std::to_string(i), [&] {
      int now = ++running;
      int seen = peak.load();
      while (now > seen && !peak.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      --running;
    });
  }
  s.wait();
  EXPECT_LE(peak.load(), 2);
  EXPECT_GE(peak.load(), 1);
}

TEST(TransferScheduler, FirstFailureStopsWhatHasNotStartedAndIsRethrown) {
  TransferScheduler s(1);
  std::atomic<int> later{0};
  s.submit("bad", [] { throw Error(ErrorKind::Remote, "push p/a: 403 denied"); });
  for (int i = 0; i < 5; ++i) s.submit("later" + std::to_string(i), [&] { ++later; });
  try {
    s.wait();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "push p/a: 403 denied");
    EXPECT_EQ(e.kind(), ErrorKind::Remote);
  }
  EXPECT_EQ(later.load(), 0);
}

TEST(TransferScheduler, WaitingForSomeJobsLeavesOthersRunning) {
  // Two callers on one scheduler: the first waits for its own job only, while the second's is
  // still blocked (a plain wait() would have waited for both).
  TransferScheduler s(2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  auto slow = s.submit("slow", [gate] { gate.wait(); });
  auto quick = s.submit("quick", [] {});
  s.wait({quick});
  EXPECT_EQ(slow.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  release.set_value();
  s.wait({slow});
}

TEST(TransferScheduler, UrgentJobsGoAheadOfQueuedOnes) {
  TransferScheduler s(1);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::vector<std::string> order;
  std::mutex mu;
  auto record = [&](std::string what) {
    std::lock_guard lock(mu);
    order.push_back(std::move(what));
  };
  s.submit("busy", [gate] { gate.wait(); });
  s.submit("layer", [&] { record("layer"); });
  s.submit("config", [&] { record("config"); }, true);
  release.set_value();
  s.wait();
  EXPECT_EQ(order, (std::vector<std::string>{"config", "layer"}));
}

TEST(TransferScheduler, WaitingForSomeJobsRethrowsTheCauseNotTheJobsThatDidNotStart) {
  TransferScheduler s(1);
  s.submit("bad", [] { throw Error(ErrorKind::Integrity, "pull blob sha256:ab: digest mismatch"); });
  auto mine = s.submit("mine", [] {});
  try {
    s.wait({mine});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "pull blob sha256:ab: digest mismatch");
  }
}

TEST(TransferScheduler, JobsLimitIsChecked) {
  EXPECT_THROW(TransferScheduler(0), Error);
  EXPECT_THROW(TransferScheduler(1000), Error);
}

TEST(TransferScheduler, DestructionLetsTheRunningJobFinishAndDropsQueuedOnes) {
  std::atomic<int> runs{0};
  std::atomic<bool> started{false};
  {
    TransferScheduler s(1);
    s.submit("slow", [&] {
      started = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      ++runs;
    });
    for (int i = 0; i < 10; ++i) s.submit(std::to_string(i), [&] { ++runs; });
    while (!started) std::this_thread::yield();
  }
  EXPECT_EQ(runs.load(), 1);
}

}  // namespace
}  // namespace sealift::registry
