/*
 * time.c -- RFC 3339 text for event times: formatting nanoseconds since the Unix epoch as UTC, and
 * parsing the forms users type (offsets, fractions, bare dates). Calendar arithmetic is done here
 * on integers, proleptic Gregorian, so no time zone database or locale is involved.
 */
#include "stele.h"

#include "util/error.h"

#include <string.h>

#define NS_PER_SEC 1000000000LL
#define SEC_PER_DAY 86400LL

/* Days from 1970-01-01 to year-month-day. Shifts the year to start in March so that the leap day
 * is the last day of the shifted year, then counts whole 400-year eras. */
static int64_t days_from_civil(int64_t year, int month, int day) {
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t month_from_march = month > 2 ? month - 3 : month + 9;
    int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t days, int64_t *year, int *month, int *day) {
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t day_of_era = days - era * 146097;
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t month_from_march = (5 * day_of_year + 2) / 153;
    *day = (int)(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    *month = (int)(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
    *year = year_of_era + era * 400 + (*month <= 2);
}

static int days_in_month(int64_t year, int month) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

/* Writes value as exactly n decimal digits, then the character after; returns the next position. */
static char *put_digits(char *p, uint32_t value, int n, char after) {
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + value % 10);
        value /= 10;
    }
    p[n] = after;
    return p + n + 1;
}

void stele_time_format(int64_t unix_ns, char out[36]) {
    /* Floor division, so instants before 1970 get a positive fraction. */
    int64_t secs = unix_ns / NS_PER_SEC;
    int64_t frac = unix_ns % NS_PER_SEC;
    if (frac < 0) {
        frac += NS_PER_SEC;
        secs -= 1;
    }
    int64_t days = secs / SEC_PER_DAY;
    int64_t sec_of_day = secs % SEC_PER_DAY;
    if (sec_of_day < 0) {
        sec_of_day += SEC_PER_DAY;
        days -= 1;
    }
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    /* int64 nanoseconds span the years 1677..2262, so the year always has four digits. */
    char *p = out;
    p = put_digits(p, (uint32_t)year, 4, '-');
    p = put_digits(p, (uint32_t)month, 2, '-');
    p = put_digits(p, (uint32_t)day, 2, 'T');
    p = put_digits(p, (uint32_t)(sec_of_day / 3600), 2, ':');
    p = put_digits(p, (uint32_t)(sec_of_day / 60 % 60), 2, ':');
    p = put_digits(p, (uint32_t)(sec_of_day % 60), 2, '.');
    p = put_digits(p, (uint32_t)frac, 9, 'Z');
    *p = '\0';
}

/* Reads exactly n decimal digits at *p and advances *p; -1 if any is not a digit. */
static int read_digits(const char **p, int n) {
    int value = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        value = value * 10 + (c - '0');
    }
    *p += n;
    return value;
}

static int bad_time(const char *text, const char *why) {
    return stele__fail(STELE_ETIME, "time \"%.64s\": %s", text, why);
}

int stele_time_parse(const char *text, int64_t *unix_ns) {
    if (!text)
        return stele__fail(STELE_ETIME, "time is missing");
    const char *p = text;
    int year = read_digits(&p, 4);
    if (year < 0 || *p++ != '-')
        return bad_time(text, "expected YYYY-MM-DD");
    int month = read_digits(&p, 2);
    if (month < 0 || *p++ != '-')
        return bad_time(text, "expected YYYY-MM-DD");
    int day = read_digits(&p, 2);
    if (day < 0)
        return bad_time(text, "expected YYYY-MM-DD");
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
        return bad_time(text, "no such date");

    int hour = 0, minute = 0, second = 0, offset_sec = 0;
    int64_t frac_ns = 0;
    if (*p != '\0') {
        if (*p != 'T' && *p != 't')
            return bad_time(text, "expected 'T' after the date");
        p++;
        hour = read_digits(&p, 2);
        if (hour < 0 || *p++ != ':')
            return bad_time(text, "expected hh:mm:ss");
        minute = read_digits(&p, 2);
        if (minute < 0 || *p++ != ':')
            return bad_time(text, "expected hh:mm:ss");
        second = read_digits(&p, 2);
        if (second < 0)
            return bad_time(text, "expected hh:mm:ss");
        /* Leap seconds (":60") cannot be represented in Unix time and are refused. */
        if (hour > 23 || minute > 59 || second > 59)
            return bad_time(text, "no such time of day");
        if (*p == '.') {
            p++;
            int digits = 0;
            while (*p >= '0' && *p <= '9') {
                if (++digits > 9)
                    return bad_time(text, "more than 9 fraction digits");
                frac_ns = frac_ns * 10 + (*p++ - '0');
            }
            if (digits == 0)
                return bad_time(text, "no digits after '.'");
            for (; digits < 9; digits++)
                frac_ns *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1;
            int off_hour = read_digits(&p, 2);
            if (off_hour < 0 || *p++ != ':')
                return bad_time(text, "expected an offset +hh:mm or -hh:mm");
            int off_minute = read_digits(&p, 2);
            if (off_minute < 0 || off_hour > 23 || off_minute > 59)
                return bad_time(text, "expected an offset +hh:mm or -hh:mm");
            offset_sec = sign * (off_hour * 3600 + off_minute * 60);
        } else if (*p == ' ' && p[1] >= '0' && p[1] <= '9') {
            /* "+01:00" sent unencoded in a URL query string arrives as " 01:00". */
            return bad_time(text, "a space where the offset's sign should be: a '+' in a query "
                                  "string must be written %2B (an unencoded '+' means a space)");
        } else {
            return bad_time(text, "expected 'Z' or an offset");
        }
        if (*p != '\0')
            return bad_time(text, "unexpected text after the time");
    }

    int64_t secs = days_from_civil(year, month, day) * SEC_PER_DAY + hour * 3600 + minute * 60 +
                   second - offset_sec;
    /* Borrow a second when the fraction is positive, so that the product stays in range down to
     * INT64_MIN (whose second is negative and fraction positive). */
    if (secs < 0 && frac_ns > 0) {
        secs += 1;
        frac_ns -= NS_PER_SEC;
    }
    int64_t ns;
    if (__builtin_mul_overflow(secs, NS_PER_SEC, &ns) || __builtin_add_overflow(ns, frac_ns, &ns))
        return bad_time(text, "outside the years 1677..2262 that nanoseconds can hold");
    *unix_ns = ns;
    return 0;
}
