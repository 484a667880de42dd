#include "sign/secret.h"

#include <sodium.h>

#include <cstring>
#include <utility>

#include "util/error.h"

namespace sealift::sign {

void init_sodium() {
  static const int rc = sodium_init();
  if (rc < 0) throw Error(ErrorKind::Internal, "libsodium failed to initialise");
}

Secret::Secret(size_t size) : data_(size ? new unsigned char[size]() : nullptr), size_(size), allocated_(size) {}

Secret Secret::copy_of(std::string_view bytes) {
  Secret s(bytes.size());
  if (!bytes.empty()) std::memcpy(s.data_, bytes.data(), bytes.size());
  return s;
}

Secret::~Secret() { release(); }

Secret::Secret(Secret&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)),
      allocated_(std::exchange(other.allocated_, 0)) {}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    allocated_ = std::exchange(other.allocated_, 0);
  }
  return *this;
}

void Secret::release() noexcept {
  if (data_) {
    sodium_memzero(data_, allocated_);
    delete[] data_;
  }
  data_ = nullptr;
  size_ = allocated_ = 0;
}

void Secret::truncate(size_t size) {
  if (size >= size_) return;
  sodium_memzero(data_ + size, size_ - size);
  size_ = size;
}

bool Secret::equals(const Secret& other) const {
  return size_ == other.size_ && (size_ == 0 || sodium_memcmp(data_, other.data_, size_) == 0);
}

}  // namespace sealift::sign
