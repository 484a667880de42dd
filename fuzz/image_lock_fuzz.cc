// images.lock (lock::ImageLock::parse): YAML the vendor commits and sealift.json carries verbatim.
// An accepted lock must write (to_yaml) to text that parses back to the same lock.
#include "fuzz.h"
#include "lock/image_lock.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  fuzz::expect_clean_errors([&] {
    auto lock = lock::ImageLock::parse(fuzz::text(data, size));
    std::string yaml = lock.to_yaml();
    auto again = lock::ImageLock::parse(yaml);
    lock.sort();
    fuzz::require(again == lock, "parse(to_yaml()) differs");
    fuzz::require(again.to_yaml() == yaml, "to_yaml() is not stable");
    fuzz::require(lock::diff(lock, again).empty(), "diff of equal locks is not empty");
  });
  return 0;
}
