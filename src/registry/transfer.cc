#include "registry/transfer.h"

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::registry {

TransferScheduler::TransferScheduler(int jobs) : jobs_(jobs) {
  if (jobs < 1 || jobs > 256) throw Error(ErrorKind::Usage, fmt::format("--jobs must be between 1 and 256, not {}", jobs));
}

TransferScheduler::~TransferScheduler() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  ready_.notify_all();
  for (auto& t : workers_) t.join();
}

std::shared_future<void> TransferScheduler::submit(const std::string& key, std::function<void()> job, bool urgent) {
  std::lock_guard lock(mu_);
  if (auto it = submitted_.find(key); it != submitted_.end()) return it->second;
  std::packaged_task<void()> task([this, job = std::move(job)] {
    {
      std::lock_guard l(mu_);
      if (first_failure_) throw Error(ErrorKind::Internal, "not started: an earlier transfer failed");
    }
    try {
      job();
    } catch (...) {
      std::lock_guard l(mu_);
      if (!first_failure_) first_failure_ = std::current_exception();
      throw;
    }
  });
  std::shared_future<void> outcome = task.get_future().share();
  submitted_.emplace(key, outcome);
  pending_.push_back(outcome);
  if (urgent) {
    queue_.push_front(std::move(task));
  } else {
    queue_.push_back(std::move(task));
  }
  // Workers start on demand, up to the limit.
  if (workers_.size() < static_cast<size_t>(jobs_)) workers_.emplace_back([this] { work(); });
  ready_.notify_one();
  return outcome;
}

void TransferScheduler::work() {
  for (;;) {
    std::packaged_task<void()> task;
    {
      std::unique_lock lock(mu_);
      ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void TransferScheduler::wait() {
  std::vector<std::shared_future<void>> pending;
  {
    std::lock_guard lock(mu_);
    pending.swap(pending_);
  }
  for (auto& f : pending) f.wait();
  std::lock_guard lock(mu_);
  if (first_failure_) std::rethrow_exception(first_failure_);
}

void TransferScheduler::wait(const std::vector<std::shared_future<void>>& jobs) {
  bool failed = false;
  for (const auto& f : jobs) {
    try {
      f.get();
    } catch (...) {
      failed = true;
    }
  }
  if (!failed) return;
  std::exception_ptr cause;
  {
    std::lock_guard lock(mu_);
    cause = first_failure_;
  }
  if (cause) std::rethrow_exception(cause);
  for (const auto& f : jobs) f.get();
}

}  // namespace sealift::registry
