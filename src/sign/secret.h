// Bytes that must not linger in memory: passwords, derived keys, decrypted private keys.
// The buffer is allocated once at its final size (so growth never leaves a stale copy behind)
// and wiped before it is freed.
#pragma once

#include <cstddef>
#include <string_view>

namespace sealift::sign {

class Secret {
 public:
  Secret() = default;
  // `size` zero bytes.
  explicit Secret(size_t size);
  static Secret copy_of(std::string_view bytes);
  ~Secret();
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  // Never null, even when empty: libsodium declares its pointer arguments nonnull.
  unsigned char* data() { return data_ ? data_ : &empty_; }
  const unsigned char* data() const { return data_ ? data_ : &empty_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data()), size_}; }

  // Drops bytes from the end, wiping them; the buffer keeps its allocation.
  void truncate(size_t size);

  // Constant-time comparison (sodium_memcmp), for password confirmation.
  bool equals(const Secret& other) const;

 private:
  void release() noexcept;
  unsigned char* data_ = nullptr;
  size_t size_ = 0;
  size_t allocated_ = 0;
  unsigned char empty_ = 0;
};

// libsodium must be initialised once before its random and crypto functions are used.
void init_sodium();

}  // namespace sealift::sign
