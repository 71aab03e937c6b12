"""Fail unless a pytest JUnit XML report counts at least MIN passed tests: a run that skips everything fails."""
import sys
import xml.etree.ElementTree as ET

report, minimum = sys.argv[1], int(sys.argv[2])
cases = list(ET.parse(report).getroot().iter("testcase"))
passed = sum(1 for c in cases if not any(child.tag in ("failure", "error", "skipped") for child in c))
print(f"{report}: {passed} passed of {len(cases)} collected (at least {minimum} required)")
sys.exit(0 if passed >= minimum else 1)
