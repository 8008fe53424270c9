from .load_image_from_file import LoadImageFromFile
from .member_views import MemberViews

__all__ = ['LoadImageFromFile', 'MemberViews']
