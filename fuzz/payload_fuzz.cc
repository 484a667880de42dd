// Simple-signing payloads (sign::SimpleSigningPayload::parse), the signed blob of every image
// signature. An accepted payload writes (bytes(), cosign's form) to a payload that parses the same.
#include "fuzz.h"
#include "sign/payload.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  fuzz::expect_clean_errors([&] {
    auto p = sign::SimpleSigningPayload::parse(fuzz::text(data, size));
    auto again = sign::SimpleSigningPayload::parse(p.bytes());
    fuzz::require(again.docker_reference == p.docker_reference && again.manifest_digest == p.manifest_digest &&
                      again.annotations == p.annotations,
                  "parse(bytes()) differs");
    fuzz::require(again.bytes() == p.bytes(), "bytes() is not stable");
  });
  return 0;
}
