"""Everything that talks to, or stands in for, Amazon's Selling Partner API."""
