#ifndef REACH_COPENSSL_SHIM_H
#define REACH_COPENSSL_SHIM_H
#include <openssl/sha.h>
#include <openssl/evp.h>
#endif
