#include "registry/retry.h"

#include <gtest/gtest.h>

namespace sealift::registry {
namespace {

using std::chrono::system_clock;

TEST(RetryPolicy, BackoffGrowsExponentiallyWithinJitterBounds) {
  RetryPolicy p;
  p.retries = 6;
  p.initial_delay_s = 1;
  p.multiplier = 2;
  p.max_delay_s = 10;
  EXPECT_DOUBLE_EQ(*p.delay(1, 0.0), 0.5);
  EXPECT_DOUBLE_EQ(*p.delay(1, 0.999999), 0.5 + 0.5 * 0.999999);
  EXPECT_DOUBLE_EQ(*p.delay(2, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(*p.delay(3, 0.5), 3.0);
  // Capped at max_delay_s.
  EXPECT_DOUBLE_EQ(*p.delay(6, 0.0), 5.0);
  EXPECT_LT(*p.delay(6, 0.99), 10.0);
}

TEST(RetryPolicy, BudgetIsBounded) {
  RetryPolicy p;
  p.retries = 2;
  EXPECT_TRUE(p.delay(1, 0.5));
  EXPECT_TRUE(p.delay(2, 0.5));
  EXPECT_FALSE(p.delay(3, 0.5));
  EXPECT_FALSE(p.delay(0, 0.5));
  p.retries = 0;
  EXPECT_FALSE(p.delay(1, 0.5));
}

TEST(RetryPolicy, RetryAfterReplacesBackoffButIsBounded) {
  RetryPolicy p;
  p.max_retry_after_s = 60;
  EXPECT_DOUBLE_EQ(*p.delay(1, 0.3, 7.0), 7.0);
  EXPECT_DOUBLE_EQ(*p.delay(1, 0.3, 0.0), 0.0);
  EXPECT_FALSE(p.delay(1, 0.3, 3600.0));
  EXPECT_FALSE(p.delay(p.retries + 1, 0.3, 1.0));
}

TEST(RetryPolicy, OutOfRangeRandomIsClamped) {
  RetryPolicy p;
  p.initial_delay_s = 2;
  EXPECT_DOUBLE_EQ(*p.delay(1, -5), 1.0);
  EXPECT_DOUBLE_EQ(*p.delay(1, 7), 2.0);
}

TEST(RetryableStatus, TransientOnly) {
  for (long s : {408L, 429L, 500L, 502L, 503L, 504L, 599L}) EXPECT_TRUE(retryable_status(s)) << s;
  for (long s : {200L, 201L, 202L, 301L, 400L, 401L, 403L, 404L, 409L, 416L, 501L, 505L, 600L}) EXPECT_FALSE(retryable_status(s)) << s;
}

TEST(RetryAfter, DeltaSeconds) {
  auto now = system_clock::now();
  EXPECT_EQ(parse_retry_after("120", now), 120.0);
  EXPECT_EQ(parse_retry_after(" 0 ", now), 0.0);
}

TEST(RetryAfter, HttpDate) {
  auto now = system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), 30.0);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), 0.0);
}

TEST(RetryAfter, MalformedValues) {
  auto now = system_clock::now();
  for (const char* bad : {"", "-1", "1.5", "soon", "12abc", "99999999999999999999", "Sun, 06 Nov 1994 08:49:37 UTC",
                          "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 36 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                          "Sun, 06 Nov 1994 25:49:37 GMT"})
    EXPECT_FALSE(parse_retry_after(bad, now)) << bad;
}

}  // namespace
}  // namespace sealift::registry
