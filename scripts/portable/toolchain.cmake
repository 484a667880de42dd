# CMake toolchain of the portable release build: zig cc/c++ for one glibc-2.28 target, and the
# static libraries of scripts/portable/build-deps.sh. The prefix carries the compiler wrappers
# (bin/cc, bin/c++ name the target), so this file needs only the prefix:
#   cmake -DCMAKE_TOOLCHAIN_FILE=scripts/portable/toolchain.cmake -DSEALIFT_PORTABLE_PREFIX=<prefix> ...
if(NOT SEALIFT_PORTABLE_PREFIX)
  set(SEALIFT_PORTABLE_PREFIX "$ENV{SEALIFT_PORTABLE_PREFIX}")
endif()
if(NOT EXISTS "${SEALIFT_PORTABLE_PREFIX}/bin/c++")
  message(FATAL_ERROR "SEALIFT_PORTABLE_PREFIX='${SEALIFT_PORTABLE_PREFIX}' is not a prefix of "
                      "scripts/portable/build-deps.sh (no bin/c++ in it)")
endif()
# try_compile projects see the prefix too.
set(ENV{SEALIFT_PORTABLE_PREFIX} "${SEALIFT_PORTABLE_PREFIX}")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SEALIFT_PORTABLE_PREFIX)

file(STRINGS "${SEALIFT_PORTABLE_PREFIX}/bin/cc" _sealift_cc REGEX "-target ")
if(_sealift_cc MATCHES "aarch64-")
  set(CMAKE_SYSTEM_PROCESSOR aarch64)
else()
  set(CMAKE_SYSTEM_PROCESSOR x86_64)
endif()
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER "${SEALIFT_PORTABLE_PREFIX}/bin/cc")
set(CMAKE_CXX_COMPILER "${SEALIFT_PORTABLE_PREFIX}/bin/c++")
set(CMAKE_AR "${SEALIFT_PORTABLE_PREFIX}/bin/ar" CACHE FILEPATH "zig ar")
set(CMAKE_RANLIB "${SEALIFT_PORTABLE_PREFIX}/bin/ranlib" CACHE FILEPATH "zig ranlib")

# Only the prefix is searched for libraries and headers, never the build host's /usr.
set(CMAKE_FIND_ROOT_PATH "${SEALIFT_PORTABLE_PREFIX}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
set(OPENSSL_USE_STATIC_LIBS TRUE)
set(ENV{PKG_CONFIG_LIBDIR} "${SEALIFT_PORTABLE_PREFIX}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# Static archives do not carry their own dependencies: these close every link, after the targets'
# own libraries (curl needs OpenSSL, libpsl and zlib; libarchive zlib and zstd). libc, libm,
# libpthread, libdl stay dynamic (NSS and dlopen keep working); libc++ and compiler-rt are static.
set(CMAKE_CXX_STANDARD_LIBRARIES
    "${SEALIFT_PORTABLE_PREFIX}/lib/libssl.a ${SEALIFT_PORTABLE_PREFIX}/lib/libcrypto.a ${SEALIFT_PORTABLE_PREFIX}/lib/libpsl.a ${SEALIFT_PORTABLE_PREFIX}/lib/libzstd.a ${SEALIFT_PORTABLE_PREFIX}/lib/libz.a -lpthread -ldl -lm")
