// PEM armour (sign::pem_decode), the outer layer of every cosign key file. An accepted block
// encodes back to a block with the same label and body.
#include "fuzz.h"
#include "sign/pem.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  fuzz::expect_clean_errors([&] {
    auto block = sign::pem_decode(fuzz::text(data, size), "key file");
    if (block.label.find('\n') != std::string::npos || block.label.find("-----") != std::string::npos) return;
    auto again = sign::pem_decode(sign::pem_encode(block.label, block.body), "key file");
    fuzz::require(again.label == block.label && again.body == block.body, "pem_encode does not read back");
  });
  return 0;
}
