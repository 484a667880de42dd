#include "registry/retry.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>

namespace sealift::registry {

std::optional<double> RetryPolicy::delay(int failures, double random01, std::optional<double> retry_after_s) const {
  if (failures < 1 || failures > retries) return std::nullopt;
  if (retry_after_s) {
    if (*retry_after_s > max_retry_after_s) return std::nullopt;
    return std::max(0.0, *retry_after_s);
  }
  double d = initial_delay_s * std::pow(multiplier, failures - 1);
  d = std::min(d, max_delay_s);
  random01 = std::clamp(random01, 0.0, 1.0);
  return d / 2 + d / 2 * random01;
}

bool retryable_status(long status) {
  if (status == 408 || status == 429) return true;
  return status >= 500 && status <= 599 && status != 501 && status != 505;
}

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

std::optional<int> number(std::string_view s) {
  if (!all_digits(s)) return std::nullopt;
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<std::time_t> parse_imf_fixdate(std::string_view s) {
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s[25] != ' ' || s.substr(26) != "GMT")
    return std::nullopt;
  static constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto month = std::find(months.begin(), months.end(), s.substr(8, 3));
  auto day = number(s.substr(5, 2));
  auto year = number(s.substr(12, 4));
  auto hour = number(s.substr(17, 2));
  auto minute = number(s.substr(20, 2));
  auto second = number(s.substr(23, 2));
  if (month == months.end() || !day || !year || !hour || !minute || !second) return std::nullopt;
  if (*day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = static_cast<int>(month - months.begin());
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  return timegm(&tm);
}

}  // namespace

std::optional<double> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (all_digits(value)) {
    if (value.size() > 9) return std::nullopt;
    return static_cast<double>(*number(value));
  }
  auto when = parse_imf_fixdate(value);
  if (!when) return std::nullopt;
  double secs = std::difftime(*when, std::chrono::system_clock::to_time_t(now));
  return std::max(0.0, secs);
}

}  // namespace sealift::registry
