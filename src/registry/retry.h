// When to try a request again and how long to wait: exponential backoff with jitter on connection
// failures, 5xx and 429, honouring Retry-After, always bounded.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace sealift::registry {

struct RetryPolicy {
  int retries = 5;                  // attempts after the first one
  double initial_delay_s = 0.5;
  double max_delay_s = 30;
  double multiplier = 2;
  // A Retry-After beyond this is not waited for: the error tells the user when to come back.
  double max_retry_after_s = 120;

  // Delay before the next attempt after `failures` failed attempts (1 = the first failed), or
  // nullopt when the budget is spent. `random01` in [0,1) spreads the delay over
  // [d/2, d) ("equal jitter") so parallel transfers do not retry in lockstep. `retry_after_s`,
  // when the server sent one, replaces the computed delay; beyond max_retry_after_s: nullopt.
  std::optional<double> delay(int failures, double random01, std::optional<double> retry_after_s = {}) const;
};

// HTTP statuses worth another attempt: 408, 429 and 5xx except 501/505 (those will not change).
bool retryable_status(long status);

// Parses Retry-After: delta-seconds or an HTTP-date (IMF-fixdate, as RFC 9110 requires senders to
// use). Returns seconds from `now` (0 for a date in the past), nullopt when malformed.
std::optional<double> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now);

}  // namespace sealift::registry
