/* Keeps the test helper library non-empty before any helper exists. */
typedef int stele_test_common_empty_t;
