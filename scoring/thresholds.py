"""Every number of livability model 3, with where it comes from.

`docs/scoring.md` explains each; a number cited to a standard is the standard's, a number
marked "our choice" is a policy of this model, published so that it can be argued with.
The warehouse SQL (`scoring/sql.py`) and the per-home step (`scoring/hazards.py`) both read
them from here, so no threshold is written twice.
"""

from __future__ import annotations

from typing import Final

# --- Time ------------------------------------------------------------------------------------

DAYS_PER_WEEK: Final = 7
HOURS_PER_DAY: Final = 24
# Parts of the local day for coverage: night, morning, afternoon, evening.
PARTS_OF_DAY: Final = 4
# CIBSE TM59 (2017) 3.2 b: bedrooms are assessed from 22:00 to 07:00 (local civil time).
NIGHT_START_HOUR: Final = 22
NIGHT_END_HOUR: Final = 7
# A reading stands for the sensor's inferred interval (the median spacing of its readings
# within each hour) and never more than this: the model's time step is the hour. A sensor
# read less often than hourly counts 60 minutes per reading (our choice).
MAX_READING_INTERVAL_S: Final = 3600.0
MIN_READING_INTERVAL_S: Final = 1.0

# --- Cold (WHO Housing and Health Guidelines 2018, chapter 4 "Low indoor temperatures and
# insulation"; PHE, Minimum home temperature thresholds for health in winter, 2014) -----------

# Severity of an hour, piecewise linear: 0 at 18 C (WHO: a safe, well-balanced indoor
# temperature in the cold season), 0.5 at 16 C (PHE: below it, resistance to respiratory
# infection falls), 1 at 12 C (PHE: 9-12 C raise blood pressure and cardiovascular risk).
# The temperatures are the sources'; the severities at them are our choice.
COLD_KNOTS: Final = ((18.0, 0.0), (16.0, 0.5), (12.0, 1.0))
COLD_LIMIT_C: Final = 18.0

# --- Heat (CIBSE TM59 2017, TM52 2013; WHO Europe, Public health advice on preventing health
# effects of heat, 2011) ---------------------------------------------------------------------

# Bedrooms at night: TM59 3.2 b, 26 C. Severity 0 at 26, 0.5 at 28 (ours), 1 at 32 C (WHO
# Europe's day limit: a bedroom at night as hot as the day limit is as bad as it gets).
NIGHT_KNOTS: Final = ((26.0, 0.0), (28.0, 0.5), (32.0, 1.0))
NIGHT_LIMIT_C: Final = 26.0
# TM59's allowance: 1 % of the night hours (32 of 3285 a year), applied to each week's own
# night hours (0.63 h of 63): the annual budget spread evenly over the year's weeks.
NIGHT_ALLOWANCE_SHARE: Final = 0.01
# Every room, every hour: WHO Europe (2011) advises keeping rooms below 32 C by day and
# warns that above 35 C fans may not prevent heat illness: severity 0 at 32, 1 at 35 C.
DAY_KNOTS: Final = ((32.0, 0.0), (35.0, 1.0))
DAY_LIMIT_C: Final = 32.0
# TM52 / EN 16798-1 category II upper limit for free-running buildings:
# theta_max = 0.33 theta_rm + 21.8. Used only on free-running days: theta_rm of at least
# 10 C, where EN 16798-1's upper limit is defined (below it, homes are heated).
ADAPTIVE_SLOPE: Final = 0.33
HEAT_INTERCEPT_C: Final = 21.8
FREE_RUNNING_TRM_C: Final = 10.0
UPPER_LIMIT_TRM_RANGE: Final = (10.0, 30.0)
LOWER_LIMIT_TRM_RANGE: Final = (15.0, 30.0)
# TM52's three criteria, delta T = operative - theta_max rounded to whole kelvins:
# 1. hours with delta T >= 1 K at most 3 % of the (free-running) hours;
# 2. daily weighted exceedance (sum of delta T over the day's hours with delta T > 0) <= 6;
# 3. delta T never above 4 K (theta_max + 4 is the upper limit).
TM52_CRITERION_1_SHARE: Final = 0.03
TM52_DAILY_WEIGHTED_MAX: Final = 6.0
TM52_UPPER_K: Final = 4.0
# TM52 severity: 0 at theta_max, 1 at the upper limit theta_max + 4 (criterion 3).

# --- Damp and mould (BS EN ISO 13788:2012; BRE IP1/06; EN ISO 13786) -------------------------

# Temperature factor of the internal surface; 0.75 is the UK design minimum for dwellings
# (BRE IP1/06, after ISO 13788's method): the coldest corner a compliant home may have.
DEFAULT_FRSI: Final = 0.75
# ISO 13788 4.2: mould is likely where the mean surface RH reaches 80 %; at 100 % the
# surface condenses. Severity 0 at 80 %, 1 at 100 % (the standard's two criteria).
MOULD_CRITERION_RH: Final = 80.0
CONDENSATION_RH: Final = 100.0
# The surface follows outdoor swings slowly: the outdoor temperature is an exponentially
# weighted running mean with a 24 h time constant. For a daily cycle that keeps 16 % of the
# swing, the decrement factor EN ISO 13786's method gives a heavy masonry wall (our choice
# of the constant).
SURFACE_TIME_CONSTANT_H: Final = 24.0
# Wet rooms (bathroom, kitchen) are judged by recovery: each day, the first 2 severity-hours
# (a shower's or a meal's peak and its clearing under Approved Document F's extract rates,
# about an hour each) are allowed; moisture that lingers beyond counts (our choice).
WET_ROOM_ALLOWANCE_H: Final = 2.0
WET_ROOMS: Final = ("bathroom", "kitchen")
ROOM_TYPES: Final = ("bedroom", "living", "kitchen", "bathroom", "other")
# Our choice, on ISO 13788 Annex A's form (internal moisture excess falling linearly from
# theta_e = 0 C to 0 at 20 C): above 4 g/m3 in cold weather, moisture production (or too
# little ventilation) is to blame rather than under-heating.
MOISTURE_EXCESS_AT_0C: Final = 4.0
MOISTURE_EXCESS_ZERO_AT_C: Final = 20.0

# --- Comfort (EN 16798-1:2019 Annex B) -------------------------------------------------------

COMFORT_INTERCEPT_C: Final = 18.8
CAT_II_BELOW_K: Final = 4.0
CAT_II_ABOVE_K: Final = 3.0
CAT_III_MARGIN_K: Final = 1.0
# EN 16798-1's humidity bands (category II 25-60 %RH, III up to 70 %) are design criteria
# for humidified or dehumidified spaces; used here as a comfort indicator (our choice), not
# in wet rooms, whose peaks are their purpose. Low RH is a flag, not a hazard.
RH_COMFORT_HIGH: Final = 60.0
RH_COMFORT_MARGIN: Final = 10.0
DRY_AIR_RH: Final = 25.0
DRY_AIR_SHARE: Final = 0.1

# --- Outdoor weather ------------------------------------------------------------------------

# EN 16798-1 B.2.2: theta_rm = (theta_ed-1 + 0.8 theta_ed-2 + ... + 0.2 theta_ed-7) / 3.8.
RUNNING_MEAN_WEIGHTS: Final = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2)
NEAREST_WEATHER_MAX_KM: Final = 50.0
EARTH_RADIUS_KM: Final = 6371.0088  # IUGG mean radius
NO_WEATHER_OUTDOOR_C: Final = 0.0

# --- Psychrometrics (WMO-No. 8, 2018, Annex 4.B: Magnus over water) ---------------------------

MAGNUS_HPA: Final = 6.112
MAGNUS_B: Final = 17.62
MAGNUS_C: Final = 243.12
VAPOUR_DENSITY_FACTOR: Final = 216.7
KELVIN: Final = 273.15

# --- Sensor (our assumption, for the interval) -----------------------------------------------

SENSOR_ACCURACY_C: Final = 0.5
SENSOR_ACCURACY_RH: Final = 3.0

# --- Overall, grade, coverage, interval (policy choices) -------------------------------------

WEIGHTS: Final = {"cold_hazard": 0.2, "heat_hazard": 0.2, "damp_hazard": 0.2, "comfort": 0.4}
HAZARDS: Final = ("cold_hazard", "heat_hazard", "damp_hazard")
GRADE_BANDS: Final = (("A", 92.0), ("B", 81.0), ("C", 69.0), ("D", 55.0), ("E", 39.0), ("F", 21.0))
LOWEST_GRADE: Final = "G"
MIN_COVERAGE: Final = 0.7
MAX_BANDS_SPANNED: Final = 2
BOOTSTRAP_RESAMPLES: Final = 200
INTERVAL_QUANTILES: Final = (0.025, 0.975)
