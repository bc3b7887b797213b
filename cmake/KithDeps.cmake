# Every dependency comes from a Debian 12 package and is found through
# pkg-config. A missing one stops the configure step with the package name;
# tools/setup installs them all.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
	message(FATAL_ERROR "pkg-config not found: install the Debian package pkg-config "
		"(tools/setup installs every dependency)")
endif()

# kith_require(<target> <pkg-config module> <Debian package>) defines the
# imported target kith::<target>.
function(kith_require target module debpkg)
	pkg_check_modules(KITH_DEP_${target} QUIET IMPORTED_TARGET GLOBAL ${module})
	if(NOT KITH_DEP_${target}_FOUND)
		message(FATAL_ERROR "${module} not found: install the Debian package ${debpkg} "
			"(tools/setup installs every dependency)")
	endif()
	add_library(kith::${target} ALIAS PkgConfig::KITH_DEP_${target})
	message(STATUS "Found ${module} ${KITH_DEP_${target}_VERSION}")
endfunction()

kith_require(sodium libsodium libsodium-dev)
kith_require(zmq libzmq libzmq3-dev)
kith_require(lmdb lmdb liblmdb-dev)
kith_require(msgpack msgpack libmsgpack-dev)
kith_require(curl libcurl libcurl4-openssl-dev)
kith_require(isal libisal libisal-dev)
kith_require(inih inih libinih-dev)
kith_require(zstd libzstd libzstd-dev)
kith_require(ldns ldns libldns-dev)
kith_require(jansson jansson libjansson-dev)
kith_require(microhttpd libmicrohttpd libmicrohttpd-dev)
