"""Oversight and coordination: legal review, cases and penalty decisions, assistance, referrals,
criminal referrals, jurisdiction disputes, supervision, training, information sharing, the calendar

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 17:58:37.591901
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_day',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('working', sa.Boolean(), nullable=False),
    sa.Column('name_zh', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )
    op.create_table('oversight_body',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name_zh', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=150), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('government', 'coordination_office', 'staffing_office', 'justice_bureau', 'police', 'procuratorate')", name='kind_valid'),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index(op.f('ix_oversight_body_region_id'), 'oversight_body', ['region_id'], unique=False)
    op.create_table('oversight_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('referral_response_hours', sa.Integer(), nullable=False),
    sa.Column('urgent_on_site_minutes', sa.Integer(), nullable=False),
    sa.Column('notice_days', sa.Integer(), nullable=False),
    sa.CheckConstraint('referral_response_hours > 0 AND urgent_on_site_minutes > 0 AND notice_days > 0', name='times_positive'),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('region_id')
    )
    op.create_table('oversight_staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('authority_id', sa.Integer(), nullable=True),
    sa.Column('body_id', sa.Integer(), nullable=True),
    sa.Column('certificate_no', sa.String(length=40), nullable=True),
    sa.Column('certificate_expires', sa.Date(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.CheckConstraint("role <> 'supervisor' OR (certificate_no IS NOT NULL AND certificate_expires IS NOT NULL)", name='supervisor_has_certificate'),
    sa.CheckConstraint("role IN ('legal_reviewer', 'supervisor')", name='role_valid'),
    sa.CheckConstraint('authority_id IS NOT NULL OR body_id IS NOT NULL', name='staff_has_employer'),
    sa.ForeignKeyConstraint(['authority_id'], ['authority.id'], ),
    sa.ForeignKeyConstraint(['body_id'], ['oversight_body.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('certificate_no'),
    sa.UniqueConstraint('code')
    )
    op.create_table('supervision_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('authority_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=24), nullable=False),
    sa.Column('on_site', sa.Boolean(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=True),
    sa.Column('visited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("method IN ('daily_inspection', 'case_file_review', 'evaluation', 'special', 'individual_case', 'other')", name='method_valid'),
    sa.ForeignKeyConstraint(['authority_id'], ['authority.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_supervision_visit_authority_id'), 'supervision_visit', ['authority_id'], unique=False)
    op.create_table('supervision_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('authority_id', sa.Integer(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('method', sa.String(length=24), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('required_action', sa.Text(), nullable=False),
    sa.Column('major', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('status', sa.String(length=16), server_default='issued', nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("method IN ('daily_inspection', 'case_file_review', 'evaluation', 'special', 'individual_case', 'other')", name='method_valid'),
    sa.CheckConstraint("status IN ('issued', 'responded', 'accepted', 'rejected')", name='status_valid'),
    sa.CheckConstraint('deadline > issued_at', name='deadline_after_issue'),
    sa.ForeignKeyConstraint(['authority_id'], ['authority.id'], ),
    sa.ForeignKeyConstraint(['issued_by_id'], ['oversight_body.id'], ),
    sa.ForeignKeyConstraint(['visit_id'], ['supervision_visit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_supervision_notice_authority_id'), 'supervision_notice', ['authority_id'], unique=False)
    op.create_table('visit_supervisor',
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['oversight_staff.id'], ),
    sa.ForeignKeyConstraint(['visit_id'], ['supervision_visit.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('visit_id', 'staff_id')
    )
    op.create_table('enforcement_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('authority_id', sa.Integer(), nullable=False),
    sa.Column('matter_id', sa.Integer(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('party_name', sa.String(length=200), nullable=False),
    sa.Column('party_business_id', sa.String(length=32), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('major', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('status', sa.String(length=16), server_default='investigating', nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("status IN ('investigating', 'decided', 'transferred', 'closed')", name='status_valid'),
    sa.ForeignKeyConstraint(['authority_id'], ['authority.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.ForeignKeyConstraint(['matter_id'], ['matter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_enforcement_case_authority_id'), 'enforcement_case', ['authority_id'], unique=False)
    op.create_index(op.f('ix_enforcement_case_incident_id'), 'enforcement_case', ['incident_id'], unique=False)
    op.create_table('jurisdiction_dispute',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('party_a_id', sa.Integer(), nullable=False),
    sa.Column('party_b_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('stage', sa.String(length=16), server_default='negotiation', nullable=False),
    sa.Column('provisional_squad_id', sa.Integer(), nullable=False),
    sa.Column('points', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('coordination_opinion', sa.Text(), nullable=True),
    sa.Column('consultation_opinion', sa.Text(), nullable=True),
    sa.Column('government_decision', sa.Text(), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('competent_authority_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("stage <> 'resolved' OR (competent_authority_id IS NOT NULL AND resolved_at IS NOT NULL)", name='resolution_names_the_competent'),
    sa.CheckConstraint("stage IN ('negotiation', 'coordination', 'consultation', 'government', 'resolved')", name='stage_valid'),
    sa.CheckConstraint('party_a_id <> party_b_id', name='two_parties'),
    sa.ForeignKeyConstraint(['competent_authority_id'], ['authority.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.ForeignKeyConstraint(['party_a_id'], ['authority.id'], ),
    sa.ForeignKeyConstraint(['party_b_id'], ['authority.id'], ),
    sa.ForeignKeyConstraint(['provisional_squad_id'], ['squad.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_jurisdiction_dispute_incident_id'), 'jurisdiction_dispute', ['incident_id'], unique=False)
    op.create_table('referral',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('from_authority_id', sa.Integer(), nullable=False),
    sa.Column('to_authority_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('matter_id', sa.Integer(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='referred', nullable=False),
    sa.Column('referred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('respond_by', sa.DateTime(timezone=True), nullable=False),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_to_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("status IN ('referred', 'acting', 'explained', 'escalated')", name='status_valid'),
    sa.CheckConstraint('from_authority_id <> to_authority_id', name='referred_elsewhere'),
    sa.CheckConstraint('respond_by > referred_at', name='respond_by_after_referred'),
    sa.ForeignKeyConstraint(['escalated_to_id'], ['oversight_body.id'], ),
    sa.ForeignKeyConstraint(['from_authority_id'], ['authority.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.ForeignKeyConstraint(['matter_id'], ['matter.id'], ),
    sa.ForeignKeyConstraint(['to_authority_id'], ['authority.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_referral_incident_id'), 'referral', ['incident_id'], unique=False)
    op.create_index(op.f('ix_referral_to_authority_id'), 'referral', ['to_authority_id'], unique=False)
    op.create_table('training_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('taken_on', sa.Date(), nullable=False),
    sa.Column('hours', sa.Numeric(precision=4, scale=1), nullable=False),
    sa.Column('course', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('hours > 0 AND hours <= 24', name='hours_in_a_day'),
    sa.ForeignKeyConstraint(['officer_id'], ['officer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_training_record_officer_id'), 'training_record', ['officer_id'], unique=False)
    op.create_table('assistance_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('from_authority_id', sa.Integer(), nullable=False),
    sa.Column('to_authority_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('urgent', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('evidence_at_risk', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('status', sa.String(length=16), server_default='sent', nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('on_site_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('on_site_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('on_site_officers', sa.String(length=300), nullable=True),
    sa.Column('extension_reason', sa.Text(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('opinion', sa.Text(), nullable=True),
    sa.Column('evidence', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("status IN ('sent', 'answered', 'withdrawn')", name='status_valid'),
    sa.CheckConstraint('due_at > sent_at', name='due_after_sent'),
    sa.ForeignKeyConstraint(['case_id'], ['enforcement_case.id'], ),
    sa.ForeignKeyConstraint(['from_authority_id'], ['authority.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.ForeignKeyConstraint(['to_authority_id'], ['authority.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_assistance_request_to_authority_id'), 'assistance_request', ['to_authority_id'], unique=False)
    op.create_table('case_officer',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.CheckConstraint("role IN ('enforcer', 'assistant')", name='role_valid'),
    sa.ForeignKeyConstraint(['case_id'], ['enforcement_case.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['officer_id'], ['officer.id'], ),
    sa.PrimaryKeyConstraint('case_id', 'officer_id')
    )
    op.create_table('criminal_referral',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('to_body_id', sa.Integer(), nullable=False),
    sa.Column('suspected_offence', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='transferred', nullable=False),
    sa.Column('transferred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('record', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("status IN ('transferred', 'accepted', 'declined', 'concluded')", name='status_valid'),
    sa.ForeignKeyConstraint(['case_id'], ['enforcement_case.id'], ),
    sa.ForeignKeyConstraint(['to_body_id'], ['oversight_body.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_criminal_referral_case_id'), 'criminal_referral', ['case_id'], unique=False)
    op.create_table('legal_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('proposed_decision', sa.Text(), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('reasons', sa.Text(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status = 'pending' OR (reviewer_id IS NOT NULL AND reasons IS NOT NULL AND reviewed_at IS NOT NULL)", name='outcome_has_reviewer_and_reasons'),
    sa.CheckConstraint("status IN ('pending', 'passed', 'failed')", name='status_valid'),
    sa.ForeignKeyConstraint(['case_id'], ['enforcement_case.id'], ),
    sa.ForeignKeyConstraint(['reviewer_id'], ['oversight_staff.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_legal_review_case_id'), 'legal_review', ['case_id'], unique=False)
    op.create_table('notice_case',
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['enforcement_case.id'], ),
    sa.ForeignKeyConstraint(['notice_id'], ['supervision_notice.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('notice_id', 'case_id')
    )
    op.create_table('penalty_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=60), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('fine_yuan', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('legal_review_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='issued', nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('issued_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("status IN ('issued', 'changed', 'revoked')", name='status_valid'),
    sa.CheckConstraint('fine_yuan IS NULL OR fine_yuan >= 0', name='fine_not_negative'),
    sa.ForeignKeyConstraint(['case_id'], ['enforcement_case.id'], ),
    sa.ForeignKeyConstraint(['legal_review_id'], ['legal_review.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    op.create_index(op.f('ix_penalty_decision_case_id'), 'penalty_decision', ['case_id'], unique=False)
    op.create_table('shared_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('authority_id', sa.Integer(), nullable=False),
    sa.Column('domains', postgresql.ARRAY(sa.String(length=40)), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('party_name', sa.String(length=200), nullable=True),
    sa.Column('party_business_id', sa.String(length=32), nullable=True),
    sa.Column('made_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('shared_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('delay_reason', sa.Text(), nullable=True),
    sa.Column('penalty_decision_id', sa.Integer(), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("kind IN ('penalty_decision', 'licence', 'inspection_record')", name='kind_valid'),
    sa.CheckConstraint('shared_at >= made_at', name='shared_after_made'),
    sa.ForeignKeyConstraint(['authority_id'], ['authority.id'], ),
    sa.ForeignKeyConstraint(['penalty_decision_id'], ['penalty_decision.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('penalty_decision_id')
    )
    op.create_index('ix_shared_record_domains', 'shared_record', ['domains'], unique=False, postgresql_using='gin')
    op.create_index(op.f('ix_shared_record_party_business_id'), 'shared_record', ['party_business_id'], unique=False)
    op.create_index(op.f('ix_shared_record_shared_at'), 'shared_record', ['shared_at'], unique=False)
    op.create_table('supervision_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('penalty_decision_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('ground', sa.String(length=40), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=True),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("action IN ('change', 'revoke')", name='action_valid'),
    sa.CheckConstraint("ground <> 'other_statutory' OR legal_basis IS NOT NULL", name='other_ground_cites_basis'),
    sa.CheckConstraint("ground IN ('no_authority_qualification', 'facts_unclear_evidence_insufficient', 'no_legal_basis', 'serious_procedural_violation', 'other_statutory')", name='ground_valid'),
    sa.ForeignKeyConstraint(['issued_by_id'], ['oversight_body.id'], ),
    sa.ForeignKeyConstraint(['notice_id'], ['supervision_notice.id'], ),
    sa.ForeignKeyConstraint(['penalty_decision_id'], ['penalty_decision.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_supervision_decision_notice_id'), 'supervision_decision', ['notice_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_supervision_decision_notice_id'), table_name='supervision_decision')
    op.drop_table('supervision_decision')
    op.drop_index(op.f('ix_shared_record_shared_at'), table_name='shared_record')
    op.drop_index(op.f('ix_shared_record_party_business_id'), table_name='shared_record')
    op.drop_index('ix_shared_record_domains', table_name='shared_record', postgresql_using='gin')
    op.drop_table('shared_record')
    op.drop_index(op.f('ix_penalty_decision_case_id'), table_name='penalty_decision')
    op.drop_table('penalty_decision')
    op.drop_table('notice_case')
    op.drop_index(op.f('ix_legal_review_case_id'), table_name='legal_review')
    op.drop_table('legal_review')
    op.drop_index(op.f('ix_criminal_referral_case_id'), table_name='criminal_referral')
    op.drop_table('criminal_referral')
    op.drop_table('case_officer')
    op.drop_index(op.f('ix_assistance_request_to_authority_id'), table_name='assistance_request')
    op.drop_table('assistance_request')
    op.drop_index(op.f('ix_training_record_officer_id'), table_name='training_record')
    op.drop_table('training_record')
    op.drop_index(op.f('ix_referral_to_authority_id'), table_name='referral')
    op.drop_index(op.f('ix_referral_incident_id'), table_name='referral')
    op.drop_table('referral')
    op.drop_index(op.f('ix_jurisdiction_dispute_incident_id'), table_name='jurisdiction_dispute')
    op.drop_table('jurisdiction_dispute')
    op.drop_index(op.f('ix_enforcement_case_incident_id'), table_name='enforcement_case')
    op.drop_index(op.f('ix_enforcement_case_authority_id'), table_name='enforcement_case')
    op.drop_table('enforcement_case')
    op.drop_table('visit_supervisor')
    op.drop_index(op.f('ix_supervision_notice_authority_id'), table_name='supervision_notice')
    op.drop_table('supervision_notice')
    op.drop_index(op.f('ix_supervision_visit_authority_id'), table_name='supervision_visit')
    op.drop_table('supervision_visit')
    op.drop_table('oversight_staff')
    op.drop_table('oversight_policy')
    op.drop_index(op.f('ix_oversight_body_region_id'), table_name='oversight_body')
    op.drop_table('oversight_body')
    op.drop_table('calendar_day')
