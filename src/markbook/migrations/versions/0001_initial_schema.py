"""initial schema

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import markbook.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "occurred_at",
            markbook.db.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_email", sa.String(length=320), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("resource", sa.String(length=100), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(
        "ix_audit_events_actor_id_occurred_at",
        "audit_events",
        ["actor_id", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ix_audit_events_student_id_occurred_at",
        "audit_events",
        ["student_id", "occurred_at"],
        unique=False,
    )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column(
            "created_at",
            markbook.db.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint(
            "role IN ('admin', 'teacher', 'tutor', 'guardian', 'student')",
            name=op.f("ck_users_role"),
        ),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_users_email_lower")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_index(op.f("ix_users_role"), "users", ["role"], unique=False)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            markbook.db.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("expires_at", markbook.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", markbook.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", markbook.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)

    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("term", sa.String(length=40), nullable=False),
        sa.Column("teacher_id", sa.Integer(), nullable=False),
        sa.Column("credits", sa.Numeric(precision=4, scale=2), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.CheckConstraint("credits >= 0", name=op.f("ck_courses_credits")),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_courses_dates")),
        sa.ForeignKeyConstraint(
            ["teacher_id"],
            ["users.id"],
            name=op.f("fk_courses_teacher_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
        sa.UniqueConstraint("external_id", name=op.f("uq_courses_external_id")),
    )
    op.create_index(op.f("ix_courses_teacher_id"), "courses", ["teacher_id"], unique=False)
    op.create_index(op.f("ix_courses_term"), "courses", ["term"], unique=False)

    op.create_table(
        "export_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=True),
        sa.Column("rows_done", sa.BigInteger(), nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("file_path", sa.String(length=500), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            markbook.db.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("started_at", markbook.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", markbook.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", markbook.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", markbook.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('export', 'workbook', 'report_cards')", name=op.f("ck_export_jobs_kind")
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired')",
            name=op.f("ck_export_jobs_status"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_export_jobs_attempts")),
        sa.CheckConstraint("rows_done >= 0", name=op.f("ck_export_jobs_rows_done")),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_export_jobs_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    op.create_index(op.f("ix_export_jobs_dedupe_key"), "export_jobs", ["dedupe_key"], unique=False)
    op.create_index(
        "ix_export_jobs_requested_by_created_at",
        "export_jobs",
        ["requested_by", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_export_jobs_status"), "export_jobs", ["status"], unique=False)

    op.create_table(
        "students",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_search", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("grade_level", sa.SmallInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("data_version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            markbook.db.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint("data_version >= 1", name=op.f("ck_students_data_version")),
        sa.CheckConstraint("grade_level BETWEEN 0 AND 12", name=op.f("ck_students_grade_level")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_students_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_students")),
        sa.UniqueConstraint("external_id", name=op.f("uq_students_external_id")),
        sa.UniqueConstraint("user_id", name=op.f("uq_students_user_id")),
    )
    op.create_index(op.f("ix_students_grade_level"), "students", ["grade_level"], unique=False)
    op.create_index(op.f("ix_students_name_search"), "students", ["name_search"], unique=False)

    op.create_table(
        "analytics_data",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("metric_type", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("recorded_at", markbook.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_analytics_data_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_analytics_data_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_data")),
    )
    op.create_index(
        "ix_analytics_data_course_id_recorded_at",
        "analytics_data",
        ["course_id", "recorded_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_analytics_data_metric_type"), "analytics_data", ["metric_type"], unique=False
    )
    op.create_index(
        "ix_analytics_data_student_id_recorded_at",
        "analytics_data",
        ["student_id", "recorded_at"],
        unique=False,
    )

    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("max_points", sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column(
            "weight", sa.Numeric(precision=6, scale=3), server_default=sa.text("1"), nullable=False
        ),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.CheckConstraint("max_points > 0", name=op.f("ck_assignments_max_points")),
        sa.CheckConstraint("weight >= 0", name=op.f("ck_assignments_weight")),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_assignments_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    op.create_index(
        "ix_assignments_course_id_due_date", "assignments", ["course_id", "due_date"], unique=False
    )

    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "status IN ('present', 'late', 'absent', 'excused')", name=op.f("ck_attendance_status")
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_attendance_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_attendance_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance")),
        sa.UniqueConstraint(
            "student_id", "date", "course_id", name=op.f("uq_attendance_student_id_date_course_id")
        ),
    )
    op.create_index(
        "ix_attendance_course_id_date", "attendance", ["course_id", "date"], unique=False
    )

    op.create_table(
        "enrollments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "end_date IS NULL OR end_date >= start_date", name=op.f("ck_enrollments_dates")
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_enrollments_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_enrollments_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollments")),
        sa.UniqueConstraint(
            "student_id",
            "course_id",
            "start_date",
            name=op.f("uq_enrollments_student_id_course_id_start_date"),
        ),
    )
    op.create_index(op.f("ix_enrollments_course_id"), "enrollments", ["course_id"], unique=False)

    op.create_table(
        "guardianships",
        sa.Column("guardian_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("relationship", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["guardian_id"],
            ["users.id"],
            name=op.f("fk_guardianships_guardian_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_guardianships_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("guardian_id", "student_id", name=op.f("pk_guardianships")),
    )
    op.create_index(
        op.f("ix_guardianships_student_id"), "guardianships", ["student_id"], unique=False
    )

    op.create_table(
        "student_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("strengths", sa.Text(), nullable=True),
        sa.Column("concerns", sa.Text(), nullable=True),
        sa.Column("recommendations", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            markbook.db.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_student_reports_period")),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_student_reports_author_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_student_reports_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_student_reports")),
    )
    op.create_index(
        op.f("ix_student_reports_author_id"), "student_reports", ["author_id"], unique=False
    )
    op.create_index(
        "ix_student_reports_student_id_period_end",
        "student_reports",
        ["student_id", "period_end"],
        unique=False,
    )

    op.create_table(
        "teacher_weekly_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("teacher_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("progress_summary", sa.Text(), nullable=False),
        sa.Column("homework_completion", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("behaviour", sa.Text(), nullable=True),
        sa.Column("next_steps", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            markbook.db.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint(
            "homework_completion IS NULL OR homework_completion BETWEEN 0 AND 100",
            name=op.f("ck_teacher_weekly_reports_homework_completion"),
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_teacher_weekly_reports_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_teacher_weekly_reports_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["teacher_id"],
            ["users.id"],
            name=op.f("fk_teacher_weekly_reports_teacher_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teacher_weekly_reports")),
        sa.UniqueConstraint(
            "student_id",
            "week_start",
            "course_id",
            name=op.f("uq_teacher_weekly_reports_student_id_week_start_course_id"),
        ),
    )
    op.create_index(
        op.f("ix_teacher_weekly_reports_course_id"),
        "teacher_weekly_reports",
        ["course_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_teacher_weekly_reports_teacher_id"),
        "teacher_weekly_reports",
        ["teacher_id"],
        unique=False,
    )

    op.create_table(
        "tutor_assignments",
        sa.Column("tutor_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            markbook.db.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_tutor_assignments_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tutor_id"],
            ["users.id"],
            name=op.f("fk_tutor_assignments_tutor_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tutor_id", "student_id", name=op.f("pk_tutor_assignments")),
    )
    op.create_index(
        op.f("ix_tutor_assignments_student_id"), "tutor_assignments", ["student_id"], unique=False
    )

    op.create_table(
        "tutor_weekly_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tutor_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("topics", sa.Text(), nullable=False),
        sa.Column("hours", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("progress_rating", sa.SmallInteger(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            markbook.db.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint("hours >= 0", name=op.f("ck_tutor_weekly_reports_hours")),
        sa.CheckConstraint(
            "progress_rating BETWEEN 1 AND 5", name=op.f("ck_tutor_weekly_reports_progress_rating")
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_tutor_weekly_reports_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tutor_id"],
            ["users.id"],
            name=op.f("fk_tutor_weekly_reports_tutor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tutor_weekly_reports")),
        sa.UniqueConstraint(
            "student_id",
            "week_start",
            "tutor_id",
            name=op.f("uq_tutor_weekly_reports_student_id_week_start_tutor_id"),
        ),
    )
    op.create_index(
        op.f("ix_tutor_weekly_reports_tutor_id"), "tutor_weekly_reports", ["tutor_id"], unique=False
    )

    op.create_table(
        "grades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", markbook.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('graded', 'late', 'missing', 'excused')", name=op.f("ck_grades_status")
        ),
        sa.CheckConstraint(
            "status NOT IN ('graded', 'late') OR score IS NOT NULL",
            name=op.f("ck_grades_score_present"),
        ),
        sa.CheckConstraint("score >= 0", name=op.f("ck_grades_score")),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_grades_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_grades_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grades")),
        sa.UniqueConstraint(
            "assignment_id", "student_id", name=op.f("uq_grades_assignment_id_student_id")
        ),
    )
    op.create_index(op.f("ix_grades_student_id"), "grades", ["student_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_grades_student_id"), table_name="grades")

    op.drop_table("grades")
    op.drop_index(op.f("ix_tutor_weekly_reports_tutor_id"), table_name="tutor_weekly_reports")

    op.drop_table("tutor_weekly_reports")
    op.drop_index(op.f("ix_tutor_assignments_student_id"), table_name="tutor_assignments")

    op.drop_table("tutor_assignments")
    op.drop_index(op.f("ix_teacher_weekly_reports_teacher_id"), table_name="teacher_weekly_reports")
    op.drop_index(op.f("ix_teacher_weekly_reports_course_id"), table_name="teacher_weekly_reports")

    op.drop_table("teacher_weekly_reports")
    op.drop_index("ix_student_reports_student_id_period_end", table_name="student_reports")
    op.drop_index(op.f("ix_student_reports_author_id"), table_name="student_reports")

    op.drop_table("student_reports")
    op.drop_index(op.f("ix_guardianships_student_id"), table_name="guardianships")

    op.drop_table("guardianships")
    op.drop_index(op.f("ix_enrollments_course_id"), table_name="enrollments")

    op.drop_table("enrollments")
    op.drop_index("ix_attendance_course_id_date", table_name="attendance")

    op.drop_table("attendance")
    op.drop_index("ix_assignments_course_id_due_date", table_name="assignments")

    op.drop_table("assignments")
    op.drop_index("ix_analytics_data_student_id_recorded_at", table_name="analytics_data")
    op.drop_index(op.f("ix_analytics_data_metric_type"), table_name="analytics_data")
    op.drop_index("ix_analytics_data_course_id_recorded_at", table_name="analytics_data")

    op.drop_table("analytics_data")
    op.drop_index(op.f("ix_students_name_search"), table_name="students")
    op.drop_index(op.f("ix_students_grade_level"), table_name="students")

    op.drop_table("students")
    op.drop_index(op.f("ix_export_jobs_status"), table_name="export_jobs")
    op.drop_index("ix_export_jobs_requested_by_created_at", table_name="export_jobs")
    op.drop_index(op.f("ix_export_jobs_dedupe_key"), table_name="export_jobs")

    op.drop_table("export_jobs")
    op.drop_index(op.f("ix_courses_term"), table_name="courses")
    op.drop_index(op.f("ix_courses_teacher_id"), table_name="courses")

    op.drop_table("courses")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")

    op.drop_table("api_tokens")
    op.drop_index(op.f("ix_users_role"), table_name="users")

    op.drop_table("users")
    op.drop_index("ix_audit_events_student_id_occurred_at", table_name="audit_events")
    op.drop_index("ix_audit_events_actor_id_occurred_at", table_name="audit_events")

    op.drop_table("audit_events")
