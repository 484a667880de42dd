#include "serve/htpasswd.h"

#include <crypt.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "util/error.h"
#include "util/fs.h"

namespace sealift::serve {

namespace {

// Roughly what checking a password against `hash` costs, in microseconds on one core, to pick the
// costliest hash of a file for unknown users: bcrypt doubles per cost step (about 70 ms at cost
// 10), SHA-crypt is linear in its rounds (5000 by default, about 4 ms). Other methods (yescrypt)
// count as a bcrypt of cost 10.
double estimated_cost(std::string_view hash) {
  auto number_after = [&](std::string_view prefix, unsigned fallback) {
    size_t at = hash.find(prefix);
    if (at == std::string_view::npos) return fallback;
    unsigned n = fallback;
    std::from_chars(hash.data() + at + prefix.size(), hash.data() + hash.size(), n);
    return n;
  };
  if (hash.size() > 7 && hash.substr(0, 2) == "$2" && hash[3] == '$') {
    unsigned cost = number_after(hash.substr(0, 4), 10);
    return 70.0 * static_cast<double>(uint64_t{1} << std::min(cost, 31u)) / 1024.0;
  }
  if (hash.substr(0, 3) == "$5$" || hash.substr(0, 3) == "$6$") return 0.8 * number_after("$rounds=", 5000);
  return 70.0;
}

}  // namespace

Htpasswd::Htpasswd(const std::filesystem::path& path) {
  std::string text = util::read_file(path);
  size_t line_no = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    size_t colon = line.find(':');
    if (colon == 0 || colon == std::string::npos)
      throw Error(ErrorKind::Input, fmt::format("{} line {}: not \"user:hash\"", path.string(), line_no));
    std::string hash = line.substr(colon + 1);
    if (hash.empty() || hash.front() != '$' || crypt_checksalt(hash.c_str()) != CRYPT_SALT_OK)
      throw Error(ErrorKind::Input,
                  fmt::format("{} line {}: the hash of user {} is not one crypt(3) can check", path.string(), line_no,
                              line.substr(0, colon)),
                  "make the file with `htpasswd -B` (bcrypt)");
    hashes_[line.substr(0, colon)] = hash;
  }
  if (hashes_.empty()) throw Error(ErrorKind::Input, fmt::format("{}: no users", path.string()), "add one with `htpasswd -B`");
  for (const auto& [user, hash] : hashes_)
    if (costliest_.empty() || estimated_cost(hash) > estimated_cost(costliest_)) costliest_ = hash;
  if (RAND_bytes(cache_key_.data(), static_cast<int>(cache_key_.size())) != 1)
    throw Error(ErrorKind::Internal, "cannot draw a random key for the credential cache");
}

std::string Htpasswd::cache_key(std::string_view user, std::string_view password) const {
  // A plain SHA-256 of the credentials would let a memory read or core dump be guessed at offline
  // at SHA-256 speed; under a key that dies with the process it is worthless.
  const std::string credentials = std::string(user) + '\0' + std::string(password);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned mac_size = 0;
  if (!HMAC(EVP_sha256(), cache_key_.data(), static_cast<int>(cache_key_.size()),
            reinterpret_cast<const unsigned char*>(credentials.data()), credentials.size(), mac, &mac_size))
    throw Error(ErrorKind::Internal, "HMAC-SHA256 failed");
  return std::string(reinterpret_cast<const char*>(mac), mac_size);
}

bool Htpasswd::passed_before(std::string_view user, std::string_view password) const {
  const std::string key = cache_key(user, password);
  std::lock_guard lock(mu_);
  return passed_.count(key) > 0;
}

bool Htpasswd::check(std::string_view user, std::string_view password) const {
  const std::string key = cache_key(user, password);
  {
    std::lock_guard lock(mu_);
    if (passed_.count(key)) return true;
  }
  auto it = hashes_.find(user);
  const bool known = it != hashes_.end();
  // An unknown user still costs one hash, so that timing does not tell which names exist; its
  // result is thrown away.
  const std::string& hash = known ? it->second : costliest_;
  // crypt_r stops at the first NUL: a password holding one is not the password it was hashed from.
  const bool has_nul = password.find('\0') != std::string_view::npos;
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  bool matches = false;
  {
    checking_.acquire();
    const char* out = crypt_r(std::string(password).c_str(), hash.c_str(), data.get());
    matches = out && out[0] != '*' && hash == out;
    checking_.release();
  }
  if (!known || has_nul || !matches) return false;
  std::lock_guard lock(mu_);
  passed_.insert(key);
  return true;
}

}  // namespace sealift::serve
