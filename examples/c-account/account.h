/*
 * account.h -- a bank account as a Stele aggregate written in C: the type's definition and the
 * state its callbacks keep. Used by examples/c-account/main.c and by the unit tests of the
 * command side (tests/unit/test_domain_*.c).
 *
 * Events:   AccountOpened {}          Deposited {"amount": N}      Withdrawn {"amount": N}
 * Commands: Open {}                   Deposit {"amount": N}        Withdraw {"amount": N}
 * Rules:    an account opens once; deposits and withdrawals need an open account and an amount
 *           > 0; a withdrawal never takes the balance below zero (no overdraft).
 */
#ifndef ACCOUNT_H
#define ACCOUNT_H

#include <stele.h>

#include <stdbool.h>
#include <stdint.h>

typedef struct account {
    bool open;
    int64_t balance;
    uint64_t events; /* events applied */
} account_t;

/* Fill def with the account type's definition ("account", version 1). */
void account_definition(stele_aggregate_def_t *def);

/* A command's data {"amount": N} into buf (at least 32 bytes); returns its length. */
size_t account_amount_json(char *buf, size_t size, int64_t amount);

#endif
