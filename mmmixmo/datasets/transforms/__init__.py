from .member_views import MemberViews

__all__ = ['MemberViews']
