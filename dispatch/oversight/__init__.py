"""Oversight and coordination (issue 6): the seeds' procedures as workflows the server enforces.

Legal review before a major penalty, certified enforcers and supervisors, training
hours, assistance requests, referral and escalation, criminal referrals,
jurisdiction disputes, supervision notices and decisions, information sharing,
the annual figures and the supervisor's page. Importing the package registers
its tables on ``dispatch.store.models.Base``.
"""

from dispatch.oversight import joint_work, models  # noqa: F401  (tables register on import)
