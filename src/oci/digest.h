// Content digests: "sha256:" + 64 lowercase hex. Only sha256 is accepted; other algorithms are
// refused with a clear error rather than trusted blindly.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "io/stream.h"

namespace sealift::oci {

class Digest {
 public:
  Digest() = default;
  // Parses "sha256:<64 lowercase hex>"; throws Error(Input) naming the problem otherwise.
  static Digest parse(std::string_view text);
  static bool valid(std::string_view text) noexcept;
  static Digest of(std::string_view bytes);
  static Digest from_raw(const std::array<uint8_t, 32>& raw);

  const std::string& str() const { return text_; }
  std::string_view hex() const { return std::string_view(text_).substr(7); }
  // "sha256-<hex>", the form cosign uses in signature tags.
  std::string tag_form() const { return "sha256-" + std::string(hex()); }
  bool empty() const { return text_.empty(); }

  friend bool operator==(const Digest&, const Digest&) = default;
  friend auto operator<=>(const Digest&, const Digest&) = default;

 private:
  explicit Digest(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

// Streaming SHA-256 (OpenSSL EVP).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::span<const std::byte> data);
  void update(std::string_view data);
  Digest finish();
  uint64_t bytes() const { return bytes_; }

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  uint64_t bytes_ = 0;
};

// A sink that hashes what passes through and forwards it to an inner sink (or nowhere).
class HashingSink : public io::Sink {
 public:
  explicit HashingSink(io::Sink* inner = nullptr) : inner_(inner) {}
  void write(std::span<const std::byte> buf) override;
  Digest finish() { return hash_.finish(); }
  uint64_t bytes() const { return hash_.bytes(); }

 private:
  io::Sink* inner_;
  Sha256 hash_;
};

// A sink that checks, at close(), that what passed through has the expected digest and size.
// Use it around every sink that receives content from outside.
class VerifyingSink : public io::Sink {
 public:
  VerifyingSink(io::Sink& inner, Digest expected, int64_t expected_size, std::string what);
  void write(std::span<const std::byte> buf) override;
  // Throws Error(Integrity) naming `what` on a mismatch.
  void close();

 private:
  io::Sink& inner_;
  Digest expected_;
  int64_t expected_size_;
  std::string what_;
  Sha256 hash_;
};

}  // namespace sealift::oci

template <>
struct std::hash<sealift::oci::Digest> {
  size_t operator()(const sealift::oci::Digest& d) const noexcept {
    return std::hash<std::string>()(d.str());
  }
};
