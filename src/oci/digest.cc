#include "oci/digest.h"

#include <openssl/evp.h>

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::oci {

namespace {
constexpr std::string_view kPrefix = "sha256:";

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

std::string problem(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return "missing algorithm prefix (expected sha256:<hex>)";
  std::string_view alg = text.substr(0, colon);
  if (alg != "sha256") return fmt::format("unsupported digest algorithm \"{}\" (only sha256)", alg);
  std::string_view hex = text.substr(colon + 1);
  if (hex.size() != 64) return fmt::format("sha256 needs 64 hex characters, got {}", hex.size());
  for (char c : hex)
    if (!is_lower_hex(c)) return "sha256 hex must be lowercase 0-9a-f";
  return {};
}
}  // namespace

bool Digest::valid(std::string_view text) noexcept {
  if (text.size() != kPrefix.size() + 64 || text.substr(0, kPrefix.size()) != kPrefix) return false;
  for (char c : text.substr(kPrefix.size()))
    if (!is_lower_hex(c)) return false;
  return true;
}

Digest Digest::parse(std::string_view text) {
  if (!valid(text)) {
    std::string shown(text.substr(0, 80));
    throw Error(ErrorKind::Input, fmt::format("invalid digest \"{}\": {}", shown, problem(text)));
  }
  return Digest(std::string(text));
}

Digest Digest::of(std::string_view bytes) {
  Sha256 h;
  h.update(bytes);
  return h.finish();
}

Digest Digest::from_raw(const std::array<uint8_t, 32>& raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(kPrefix);
  for (uint8_t b : raw) {
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 15]);
  }
  return Digest(std::move(s));
}

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (!ctx_->md || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1)
    throw Error(ErrorKind::Internal, "OpenSSL: cannot initialise SHA-256");
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_->md); }

void Sha256::update(std::span<const std::byte> data) {
  EVP_DigestUpdate(ctx_->md, data.data(), data.size());
  bytes_ += data.size();
}

void Sha256::update(std::string_view data) {
  update(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data.data()), data.size()));
}

Digest Sha256::finish() {
  std::array<uint8_t, 32> raw{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, raw.data(), &len);
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
  return Digest::from_raw(raw);
}

void HashingSink::write(std::span<const std::byte> buf) {
  hash_.update(buf);
  if (inner_) inner_->write(buf);
}

VerifyingSink::VerifyingSink(io::Sink& inner, Digest expected, int64_t expected_size, std::string what)
    : inner_(inner), expected_(std::move(expected)), expected_size_(expected_size), what_(std::move(what)) {}

void VerifyingSink::write(std::span<const std::byte> buf) {
  if (expected_size_ >= 0 && hash_.bytes() + buf.size() > static_cast<uint64_t>(expected_size_))
    throw Error(ErrorKind::Integrity,
                fmt::format("{}: more data than the {} bytes its descriptor declares", what_, expected_size_));
  hash_.update(buf);
  inner_.write(buf);
}

void VerifyingSink::close() {
  uint64_t n = hash_.bytes();
  Digest got = hash_.finish();
  if (expected_size_ >= 0 && n != static_cast<uint64_t>(expected_size_))
    throw Error(ErrorKind::Integrity,
                fmt::format("{}: size {} does not match the declared {}", what_, n, expected_size_));
  if (got != expected_)
    throw Error(ErrorKind::Integrity,
                fmt::format("{}: digest mismatch: expected {}, got {}", what_, expected_.str(), got.str()));
}

}  // namespace sealift::oci
